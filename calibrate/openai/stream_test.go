package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// server replies with the given SSE lines, pausing between them.
func server(t *testing.T, status int, pause time.Duration, lines ...string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("request body: %v", err)
		}
		if so, _ := body["stream_options"].(map[string]any); so["include_usage"] != true {
			t.Errorf("request does not ask for usage: %v", body)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(status)
		for _, l := range lines {
			fmt.Fprintf(w, "%s\n\n", l)
			w.(http.Flusher).Flush()
			time.Sleep(pause)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

const (
	c1   = `data: {"choices":[{"text":"Hello","finish_reason":null}],"usage":{"prompt_tokens":0,"completion_tokens":0}}`
	c2   = `data: {"choices":[{"text":" wor","finish_reason":null}]}`
	c3   = `data: {"choices":[{"text":"ld!","finish_reason":"length"}]}`
	use  = `data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5}}`
	done = `data: [DONE]`
)

func TestStream(t *testing.T) {
	s := server(t, 200, 5*time.Millisecond, ": keep-alive", c1, c2, c3, use, done)
	c := &Client{BaseURL: s.URL + "/v1", Endpoint: Completions}
	rec, err := c.Stream(context.Background(), Request{Model: "m", Prompt: "p", MaxTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !rec.OK() || rec.PromptTokens != 12 || rec.OutputTokens != 5 || rec.FinishReason != "length" {
		t.Errorf("record %+v", rec)
	}
	if len(rec.ChunkNS) != 3 || rec.ChunkChars[0] != 5 || rec.ChunkChars[2] != 3 {
		t.Errorf("chunks %v %v", rec.ChunkNS, rec.ChunkChars)
	}
	if rec.FirstNS != rec.ChunkNS[0] || rec.EndNS < rec.ChunkNS[2] || rec.ChunkNS[1] <= rec.ChunkNS[0] {
		t.Errorf("times: first %d chunks %v end %d", rec.FirstNS, rec.ChunkNS, rec.EndNS)
	}
	tm := rec.Timing()
	// Five tokens in three chunks: TPOT divides by the tokens, ITL has the
	// two gaps between chunks.
	if want := (tm.E2E - tm.TTFT) / 4; math.Abs(tm.TPOT-want) > 1e-12 || len(tm.ITL) != 2 {
		t.Errorf("timing %+v", tm)
	}
	if tm.TTFT < 0.004 || tm.E2E < tm.TTFT+0.009 {
		t.Errorf("timing does not reflect the pauses: %+v", tm)
	}
}

func TestChatDelta(t *testing.T) {
	s := server(t, 200, 0,
		`data: {"choices":[{"delta":{"role":"assistant"}}]}`, // no text: not a token
		`data: {"choices":[{"delta":{"content":"Hi"}}]}`,
		`data: {"choices":[{"delta":{"reasoning_content":"hm"}}]}`,
		use, done)
	c := &Client{BaseURL: s.URL + "/v1/", Endpoint: Chat}
	rec, err := c.Stream(context.Background(), Request{Model: "m", Prompt: "p", MaxTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.ChunkNS) != 2 {
		t.Errorf("chunks with text: %d, want 2", len(rec.ChunkNS))
	}
}

func TestStreamFailures(t *testing.T) {
	cases := []struct {
		name   string
		status int
		lines  []string
		stall  time.Duration
		want   string
		chunks int
	}{
		{"http error", 503, []string{`{"error":"overloaded"}`}, 0, "HTTP 503", 0},
		{"malformed", 200, []string{c1, `data: {"choices":[{"text":`, use, done}, 0, "malformed chunk at line 3", 1},
		{"no done", 200, []string{c1, c2}, 0, "without [DONE]", 2},
		{"no usage", 200, []string{c1, done}, 0, "no usage", 1},
		{"error event", 200, []string{c1, `data: {"error":{"message":"model unloaded"}}`}, 0, "model unloaded", 1},
		{"stall", 200, []string{c1, c2, c3}, 20 * time.Millisecond, "stalled", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pause := time.Duration(0)
			if tc.stall > 0 {
				pause = 200 * time.Millisecond
			}
			s := server(t, tc.status, pause, tc.lines...)
			c := &Client{BaseURL: s.URL + "/v1", Stall: tc.stall}
			rec, err := c.Stream(context.Background(), Request{Model: "m", MaxTokens: 5})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if rec.Error != err.Error() || rec.OK() {
				t.Errorf("record does not carry the error: %+v", rec)
			}
			if want := tc.name == "no done"; rec.Transport != want {
				t.Errorf("transport failure %v, want %v", rec.Transport, want)
			}
			if len(rec.ChunkNS) != tc.chunks {
				t.Errorf("kept %d chunks, want %d (data gathered before the failure)", len(rec.ChunkNS), tc.chunks)
			}
		})
	}
}

func TestRefusedAndTimeout(t *testing.T) {
	s := server(t, 200, 0)
	url := s.URL
	s.Close()
	c := &Client{BaseURL: url + "/v1"}
	if rec, err := c.Stream(context.Background(), Request{}); err == nil || !strings.Contains(err.Error(), "refused") || !rec.Transport {
		t.Errorf("closed server: %v (transport %v)", err, rec.Transport)
	}
	slow := server(t, 200, time.Second, c1, c2)
	c = &Client{BaseURL: slow.URL + "/v1", Timeout: 50 * time.Millisecond}
	if _, err := c.Stream(context.Background(), Request{}); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("timeout: %v", err)
	}
}

// TestStallCoversHeadersAndKeepAlives: stall_s bounds the wait for the
// response headers and between meaningful events (a chunk with text,
// [DONE]), not between bytes: a server that never answers, or that sends
// keep-alive comments or empty chunks forever, stalls.
func TestStallCoversHeadersAndKeepAlives(t *testing.T) {
	// quit ends the handlers still running when the test ends: a server
	// notices a client gone only once it has read the request body.
	quit := make(chan struct{})
	wait := func(r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-quit:
		}
	}
	// repeat writes line every 50 ms until the client goes away.
	repeat := func(first []string, line string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "text/event-stream")
			for _, l := range first {
				fmt.Fprintf(w, "%s\n\n", l)
			}
			w.(http.Flusher).Flush()
			for {
				select {
				case <-r.Context().Done():
					return
				case <-quit:
					return
				case <-time.After(50 * time.Millisecond):
				}
				fmt.Fprint(w, line)
				w.(http.Flusher).Flush()
			}
		}
	}
	silentTCP, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silentTCP.Close() })
	go func() { // accepts, reads nothing, writes nothing
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := silentTCP.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	cases := []struct {
		name    string
		url     string
		handler http.HandlerFunc
		want    string
		chunks  int
	}{
		{"no headers", "", func(w http.ResponseWriter, r *http.Request) { wait(r) }, "stalled: no response headers for 300ms", 0},
		{"silent socket", "http://" + silentTCP.Addr().String(), nil, "stalled: no response headers for 300ms", 0},
		{"keep-alives only", "", repeat(nil, ": keep-alive\n\n"), "stalled: no token or [DONE] for 300ms", 0},
		{"a token, then keep-alives", "", repeat([]string{c1}, ": keep-alive\n\n"), "stalled: no token or [DONE] for 300ms", 1},
		{"empty lines", "", repeat([]string{c1}, "\n"), "stalled: no token or [DONE]", 1},
		{"chunks without text", "", repeat([]string{c1}, "data: {\"choices\":[]}\n\n"), "stalled: no token or [DONE]", 1},
		{"error status, body never ends", "", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(503)
			w.(http.Flusher).Flush()
			wait(r)
		}, "HTTP 503", 0}, // the status is the answer; the body's wait is cut short
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if tc.handler != nil {
				s := httptest.NewServer(tc.handler)
				t.Cleanup(s.Close)
				url = s.URL
				t.Cleanup(func() { close(quit); quit = make(chan struct{}) }) // before s.Close
			}
			// Timeout bounds the test where the stall timer would not.
			c := &Client{BaseURL: url + "/v1", Stall: 300 * time.Millisecond, Timeout: 30 * time.Second}
			start := time.Now()
			rec, err := c.Stream(context.Background(), Request{Model: "m", MaxTokens: 5})
			el := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			// 0.3 s expected; 10 s is generous for a loaded 2-core
			// machine and still far below the 30 s timeout.
			if el > 10*time.Second {
				t.Errorf("took %v to notice a 300ms stall", el)
			}
			if rec.Error != err.Error() || len(rec.ChunkNS) != tc.chunks {
				t.Errorf("record: error %q, %d chunks; want the error and %d chunks kept", rec.Error, len(rec.ChunkNS), tc.chunks)
			}
		})
	}
}

// TestStallResetByTokens: a slow but steady stream, each token within the
// stall bound, is not a stall even when the whole reply takes longer.
func TestStallResetByTokens(t *testing.T) {
	s := server(t, 200, 100*time.Millisecond, ": keep-alive", c1, c2, c3, use, done)
	c := &Client{BaseURL: s.URL + "/v1", Stall: 2 * time.Second}
	if _, err := c.Stream(context.Background(), Request{Model: "m", MaxTokens: 5}); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseStream(f *testing.F) {
	for _, seed := range []string{
		strings.Join([]string{": keep-alive", c1, c2, c3, use, done}, "\n\n"),
		c1 + "\n\n" + `data: {"choices":[{"text":`, // torn
		`data: {"choices":[{"text":"a"}],"usage":{"prompt_tokens":1e400,"completion_tokens":nan}}`,
		`data: {"usage":{"prompt_tokens":-1,"completion_tokens":99999999999999999999}}`,
		`data: {"choices":[{"delta":{"content":"x","reasoning":"` + strings.Repeat("y", 1000) + `"}}]}`,
		"data: " + strings.Repeat(`{"choices":[`, 2000) + strings.Repeat("]}", 2000),
		"data: " + strings.Repeat("[", 20000),
		"data:[DONE]",
		"data: {\"error\":{\"message\":\"x\"}}",
		"\x00\xff\xfe data: \x01\r\n\r\n",
		"event: ping\nid: 3\nretry: 10\n\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec Record
		n := int64(0)
		ticks := 0
		done, line, err := parseStream(bytes.NewReader(data), &rec, func() int64 { n++; return n }, func() { ticks++ })
		if len(rec.ChunkNS) != len(rec.ChunkChars) {
			t.Fatalf("%d chunk times, %d lengths", len(rec.ChunkNS), len(rec.ChunkChars))
		}
		if done && err != nil {
			t.Fatalf("done with an error: %v", err)
		}
		if rec.PromptTokens < 0 || rec.OutputTokens < 0 {
			t.Fatalf("negative usage kept: %+v", rec)
		}
		if line < 0 || ticks < len(rec.ChunkNS) {
			t.Fatalf("line %d, %d ticks for %d chunks", line, ticks, len(rec.ChunkNS))
		}
		for _, c := range rec.ChunkChars {
			if c <= 0 {
				t.Fatalf("chunk of %d bytes recorded", c)
			}
		}
	})
}
