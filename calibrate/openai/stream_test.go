package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
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
