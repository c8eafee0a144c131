// Package openai is a streaming client for the OpenAI-compatible endpoints
// that vLLM, SGLang, TensorRT-LLM, llama.cpp and Ollama serve
// (/v1/chat/completions and /v1/completions). It records, per request, when
// it was sent, when every streamed chunk arrived, when it ended, and the
// exact token counts the server reports in its usage block.
//
// Definitions follow vLLM's benchmark tools; see Timing.
package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Endpoint selects the API.
type Endpoint string

// The two streaming endpoints.
const (
	Chat        Endpoint = "chat"        // /v1/chat/completions
	Completions Endpoint = "completions" // /v1/completions
)

// Request is one generation request.
type Request struct {
	Model     string
	Prompt    string
	MaxTokens int
	// Temperature 0 is greedy; engines differ in what they do with it, so
	// calibration uses 1 and relies on max_tokens for the length.
	Temperature float64
	Seed        int64
}

// Record is what the client measured of one request. Times are
// nanoseconds after Sent, so a record is self-contained.
type Record struct {
	Sent time.Time `json:"sent"`
	// FirstNS is the arrival of the first chunk that carries output text
	// (the first token); 0 if none arrived.
	FirstNS int64 `json:"first_ns"`
	// ChunkNS are the arrivals of every chunk that carries output text. A
	// chunk may hold several tokens (engines batch their detokenizer
	// output), so len(ChunkNS) is not the token count.
	ChunkNS []int64 `json:"chunk_ns"`
	// ChunkChars is the length in bytes of each chunk's text.
	ChunkChars []int `json:"chunk_chars"`
	EndNS      int64 `json:"end_ns"`
	// PromptTokens and OutputTokens are the server's usage counts; 0 with
	// UsageMissing when the server sent none.
	PromptTokens int    `json:"prompt_tokens"`
	OutputTokens int    `json:"output_tokens"`
	UsageMissing bool   `json:"usage_missing,omitempty"`
	FinishReason string `json:"finish_reason,omitempty"`
	Status       int    `json:"status"`
	Error        string `json:"error,omitempty"`
	// Transport marks a failure of the connection rather than an answer
	// of the server: refused, reset, cut off mid-stream. It usually means
	// the server is gone.
	Transport bool `json:"transport,omitempty"`
}

// OK reports whether the request completed with usage counts.
func (r Record) OK() bool { return r.Error == "" && !r.UsageMissing && r.OutputTokens > 0 }

// Client talks to one server. BaseURL ends in /v1.
type Client struct {
	BaseURL  string
	Endpoint Endpoint
	HTTP     *http.Client
	// Timeout bounds a whole request; Stall bounds the wait for the next
	// byte of the stream. Zero means no bound.
	Timeout, Stall time.Duration
}

// Stream sends req and reads the streamed reply to its end. The record is
// filled as far as the request got even when an error is returned: a
// refused connection, an HTTP error status, a stall, a malformed chunk, or
// a stream that ends without [DONE]. The error is also in Record.Error.
func (c *Client) Stream(ctx context.Context, req Request) (rec Record, err error) {
	defer func() {
		if err != nil {
			rec.Error = err.Error()
		}
	}()
	body, url := c.body(req)
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return rec, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	// The stall timer runs from the send: a server that accepts and
	// never answers stalls as surely as one that stops streaming. It is
	// reset by meaningful events only (a chunk carrying text, [DONE]), so
	// keep-alive comments and empty events do not hold a request open.
	st := newStall(c.Stall, cancel)
	defer st.stop()
	rec.Sent = time.Now()
	since := func() int64 { return max(time.Since(rec.Sent).Nanoseconds(), 1) }
	resp, err := client.Do(hreq)
	if err != nil {
		rec.Transport = context.Cause(ctx) == nil
		return rec, cause(ctx, err)
	}
	defer resp.Body.Close()
	st.progress(stallToken)
	rec.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return rec, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	done, line, err := parseStream(resp.Body, &rec, since, func() { st.progress(stallToken) })
	var rerr *readError
	if err != nil && !errors.As(err, &rerr) {
		return rec, err // what the stream said: a bad chunk, an error event
	}
	rec.EndNS = since()
	switch {
	case rerr != nil:
		rec.Transport = context.Cause(ctx) == nil
		return rec, fmt.Errorf("reading stream at line %d: %w", line, cause(ctx, rerr.err))
	case !done:
		rec.Transport = true
		return rec, fmt.Errorf("stream ended after %d lines without [DONE]", line)
	}
	if rec.OutputTokens == 0 {
		rec.UsageMissing = true
		return rec, errors.New("no usage in the stream (does the server honour stream_options.include_usage?)")
	}
	return rec, nil
}

// MaxChunks bounds the text chunks of one reply: a chunk holds at least
// one token, and no plan asks for more than a million.
const MaxChunks = 1 << 20

// readError is a failure to read the stream (the connection, a line
// longer than the scanner takes), as opposed to what the stream said.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }

// parseStream reads a server-sent-event stream of chunks into rec: the
// arrival (since) and length of every chunk that carries text, the finish
// reason, and the usage counts. tick is called on every meaningful event
// (a chunk with text, [DONE]). It returns whether [DONE] arrived and the
// lines read; a read failure is a *readError.
func parseStream(body io.Reader, rec *Record, since func() int64, tick func()) (done bool, line int, err error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line++
		data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data:"))
		if !ok {
			continue // blank separators, comments (":"), event: lines
		}
		data = bytes.TrimSpace(data)
		if string(data) == "[DONE]" {
			tick()
			return true, line, nil
		}
		var ch chunk
		if err := json.Unmarshal(data, &ch); err != nil {
			return false, line, fmt.Errorf("malformed chunk at line %d: %v", line, err)
		}
		if ch.Error != nil {
			return false, line, fmt.Errorf("server error in stream at line %d: %s", line, ch.Error.Message)
		}
		if n := ch.textLen(); n > 0 {
			if len(rec.ChunkNS) >= MaxChunks {
				return false, line, fmt.Errorf("more than %d chunks with text at line %d", MaxChunks, line)
			}
			tick()
			t := since()
			if rec.FirstNS == 0 {
				rec.FirstNS = t
			}
			rec.ChunkNS = append(rec.ChunkNS, t)
			rec.ChunkChars = append(rec.ChunkChars, n)
		}
		for _, choice := range ch.Choices {
			if choice.FinishReason != nil && *choice.FinishReason != "" {
				rec.FinishReason = *choice.FinishReason
			}
		}
		if u := ch.Usage; u != nil {
			if u.PromptTokens < 0 || u.CompletionTokens < 0 {
				return false, line, fmt.Errorf("negative usage at line %d: %d prompt, %d completion tokens", line, u.PromptTokens, u.CompletionTokens)
			}
			// Some servers send zero usage on every chunk and the real
			// counts on the last; keep the largest.
			if u.CompletionTokens >= rec.OutputTokens {
				rec.PromptTokens = u.PromptTokens
				rec.OutputTokens = u.CompletionTokens
			}
		}
	}
	if err := sc.Err(); err != nil {
		return false, line, &readError{err}
	}
	return false, line, nil
}

// What a stalled request was waiting for.
var (
	stallHeaders = "no response headers"
	stallToken   = "no token or [DONE]"
)

// stall cancels a request when no meaningful progress is made for d.
type stall struct {
	d       time.Duration
	t       *time.Timer
	waiting atomic.Pointer[string]
}

// newStall starts the timer, waiting for response headers; d <= 0 means
// no bound.
func newStall(d time.Duration, cancel context.CancelCauseFunc) *stall {
	s := &stall{d: d}
	if d <= 0 {
		return s
	}
	s.waiting.Store(&stallHeaders)
	s.t = time.AfterFunc(d, func() { cancel(fmt.Errorf("stalled: %s for %v", *s.waiting.Load(), d)) })
	return s
}

// progress restarts the timer, now waiting for what.
func (s *stall) progress(what string) {
	if s.t != nil {
		s.waiting.Store(&what)
		s.t.Reset(s.d)
	}
}

func (s *stall) stop() {
	if s.t != nil {
		s.t.Stop()
	}
}

// cause prefers the context's cause (a stall, a timeout) over the
// transport's wrapping of it.
func cause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil {
		if errors.Is(c, context.DeadlineExceeded) {
			return fmt.Errorf("timed out: %w", err)
		}
		return c
	}
	return err
}

func (c *Client) body(req Request) ([]byte, string) {
	m := map[string]any{
		"model":          req.Model,
		"max_tokens":     req.MaxTokens,
		"stream":         true,
		"stream_options": map[string]any{"include_usage": true},
		"temperature":    req.Temperature,
		"seed":           req.Seed,
		// vLLM and SGLang: run to max_tokens whatever the model emits.
		"ignore_eos": true,
	}
	url := strings.TrimSuffix(c.BaseURL, "/")
	if c.Endpoint == Chat {
		m["messages"] = []map[string]string{{"role": "user", "content": req.Prompt}}
		url += "/chat/completions"
	} else {
		m["prompt"] = req.Prompt
		url += "/completions"
	}
	b, _ := json.Marshal(m) // only maps, strings and numbers: cannot fail
	return b, url
}

type chunk struct {
	Choices []struct {
		Text  string `json:"text"`
		Delta struct {
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
			Reasoning        string `json:"reasoning"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func (c chunk) textLen() int {
	n := 0
	for _, ch := range c.Choices {
		n += len(ch.Text) + len(ch.Delta.Content) + len(ch.Delta.ReasoningContent) + len(ch.Delta.Reasoning)
	}
	return n
}

// Timing is a request's latency metrics, with vLLM's names:
//
//	TTFT  time to first token: first output chunk − sent
//	E2E   end-to-end latency: end of stream − sent
//	TPOT  time per output token after the first: (E2E − TTFT) / (output tokens − 1)
//	ITL   inter-token latency: the gaps between consecutive output chunks
//	      (GenAI-Perf and AIPerf call the per-request TPOT "ITL"; here ITL
//	      is always the gaps)
//
// A chunk carrying several tokens makes one long gap, not several short
// ones; TPOT, from the server's token count, is unaffected.
type Timing struct {
	TTFT, E2E, TPOT float64 // seconds; TPOT is NaN-free: 0 for one-token replies
	ITL             []float64
}

// Timing derives the metrics of a completed record.
func (r Record) Timing() Timing {
	t := Timing{TTFT: float64(r.FirstNS) / 1e9, E2E: float64(r.EndNS) / 1e9}
	if r.OutputTokens > 1 {
		t.TPOT = (t.E2E - t.TTFT) / float64(r.OutputTokens-1)
	}
	for i := 1; i < len(r.ChunkNS); i++ {
		t.ITL = append(t.ITL, float64(r.ChunkNS[i]-r.ChunkNS[i-1])/1e9)
	}
	return t
}
