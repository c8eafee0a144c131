package calibrate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/calibrate/telemetry"
	"github.com/fleettwin/fleettwin/internal/syncbuf"
)

// fakeServer is an OpenAI-compatible server that streams max_tokens
// one-character chunks; gate, when non-nil, is waited on before each reply.
func fakeServer(t *testing.T, gate <-chan struct{}) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for range 4 {
			fmt.Fprint(w, "data: {\"choices\":[{\"text\":\"x\"}]}\n\n")
		}
		fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(s.Close)
	return s
}

// fakePlan is a one-model plan against url: one experiment of two requests.
func fakePlan(t *testing.T, url string) (*Plan, []byte) {
	t.Helper()
	data := []byte(`name = "fake"
hardware = "cpu-host"
engine = "ollama"
timeout_s = 60
stall_s = 60
[[models]]
name = "m"
arch = "qwen3-ci-a"
format = "fp16"
url = "` + url + `/v1"
max_seqs = 4
[experiments]
concurrency = [1]
inputs = [8]
outputs = [4]
requests = 2
`)
	p, err := ParsePlan("fake.toml", data, ciCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	return p, data
}

type noTelemetry struct{}

func (noTelemetry) Name() string                                   { return "none" }
func (noTelemetry) Read(now time.Time) ([]telemetry.Sample, error) { return nil, nil }
func (noTelemetry) Close() error                                   { return nil }

type syncBuffer = syncbuf.Buffer

const goodRecord = `{"experiment":"a","attempt":1,"model":"m","seq":0,"target_input":8,"max_tokens":4,"sent":"2026-01-01T00:00:00Z","first_ns":5,"chunk_ns":[5],"chunk_chars":[1],"end_ns":9,"prompt_tokens":8,"output_tokens":4,"status":200}`

// TestResumeRepairsTornTail: a run killed mid-write leaves a torn last
// line in requests.jsonl (and telemetry.jsonl); --resume must cut it off
// (keeping its bytes aside) before appending, or its first record glues
// onto the torn one and fit and check can no longer read the run.
func TestResumeRepairsTornTail(t *testing.T) {
	cases := []struct {
		name      string
		requests  string // content before the resume
		kept      int    // records of the old content that survive
		cut       string // what the log says
		tornBytes int
	}{
		{"torn record", goodRecord + "\n" + goodRecord + "\n" + goodRecord[:70], 2, "dropped its 70 bytes", 70},
		{"zeros", goodRecord + "\n" + strings.Repeat("\x00", 4096), 1, "dropped its 4096 bytes", 4096},
		{"torn then blank", goodRecord + "\n" + goodRecord[:30] + "\n\n", 1, "dropped its 32 bytes", 32},
		{"whole record without newline", goodRecord + "\n" + goodRecord, 2, "lacked its newline", 0},
		{"clean", goodRecord + "\n", 1, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := fakeServer(t, nil)
			p, data := fakePlan(t, srv.URL)
			dir, err := Start(t.TempDir(), p, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, RequestsFile), []byte(c.requests), 0o644); err != nil {
				t.Fatal(err)
			}
			tornSample := `{"t":"2026-01-01T00:00:00Z","device":"host","util_pct":5`
			if err := os.WriteFile(filepath.Join(dir, TelemetryFile), []byte(`{"t":"2026-01-01T00:00:00Z","device":"host","util_pct":5,"has":{}}`+"\n"+tornSample), 0o644); err != nil {
				t.Fatal(err)
			}
			var log syncBuffer
			r := &Runner{Plan: p, Dir: dir, Progress: &log, Telemetry: noTelemetry{}}
			if err := r.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			recs, skipped, err := ReadRequests(dir)
			if err != nil || skipped != 0 {
				t.Fatalf("after resume: %v, %d skipped\nlog:\n%s", err, skipped, log.String())
			}
			// 2 warm-up requests and the experiment's 2.
			if want := c.kept + 4; len(recs) != want {
				t.Errorf("%d records, want %d", len(recs), want)
			}
			if c.cut != "" && !strings.Contains(log.String(), c.cut) {
				t.Errorf("log does not say %q:\n%s", c.cut, log.String())
			}
			torn, _ := os.ReadFile(filepath.Join(dir, RequestsFile+TornSuffix))
			if c.tornBytes > 0 && len(torn) != c.tornBytes+1 {
				t.Errorf("%s holds %d bytes, want the %d cut and a newline", RequestsFile+TornSuffix, len(torn), c.tornBytes)
			}
			if c.tornBytes == 0 && torn != nil {
				t.Errorf("%s written for a whole file: %q", RequestsFile+TornSuffix, torn)
			}
			if _, err := LoadRun(dir, ciCatalog(t)); err != nil {
				t.Errorf("LoadRun after resume: %v", err)
			}
			tel, _ := os.ReadFile(filepath.Join(dir, TelemetryFile))
			if bytes.Contains(tel, []byte(tornSample+"\n")) || bytes.Contains(tel, []byte(tornSample+"{")) || !strings.Contains(log.String(), "telemetry.jsonl ended in a torn line") {
				t.Errorf("telemetry's torn line not repaired:\n%s\nlog:\n%s", tel, log.String())
			}
		})
	}
}

// TestReadRequestsTornTails: whatever a crash leaves as the last line,
// ReadRequests skips it and counts it; a bad line anywhere else is an
// error naming it.
func TestReadRequestsTornTails(t *testing.T) {
	cases := []struct {
		name    string
		content string
		recs    int
		skipped int
		err     string
	}{
		{"torn", goodRecord + "\n" + goodRecord[:40], 1, 1, ""},
		{"torn, then a blank line", goodRecord + "\n" + goodRecord[:40] + "\n\n", 1, 1, ""},
		{"zeros", goodRecord + "\n" + strings.Repeat("\x00", 512), 1, 1, ""},
		{"binary", goodRecord + "\n\xff\xfe{\x01", 1, 1, ""},
		{"longer than a line may be", goodRecord + "\n" + strings.Repeat("x", maxLine+10), 1, 1, ""},
		{"whole, no newline", goodRecord + "\n" + goodRecord, 2, 0, ""},
		{"blank lines", "\n" + goodRecord + "\n \n" + goodRecord + "\n\n", 2, 0, ""},
		{"empty", "", 0, 0, ""},
		{"torn in the middle", goodRecord + "\n" + goodRecord[:40] + "\n" + goodRecord + "\n", 0, 0, "requests.jsonl:2: "},
		{"long in the middle", strings.Repeat("x", maxLine+10) + "\n" + goodRecord + "\n", 0, 0, "requests.jsonl:1: line is longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, RequestsFile), []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			recs, skipped, err := ReadRequests(dir)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("got %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || len(recs) != c.recs || skipped != c.skipped {
				t.Errorf("%d records, %d skipped, %v; want %d, %d", len(recs), skipped, err, c.recs, c.skipped)
			}
		})
	}
}

// TestRunFolderLock: two runners on one folder at once would write every
// record twice; the second is refused at once, naming the folder and the
// holder's pid. The lock dies with its holder, so a lock file left behind
// never blocks a later run.
func TestRunFolderLock(t *testing.T) {
	gate := make(chan struct{})
	srv := fakeServer(t, gate)
	p, data := fakePlan(t, srv.URL)
	dir, err := Start(t.TempDir(), p, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := &Runner{Plan: p, Dir: dir, Telemetry: noTelemetry{}}
	if err := first.Lock(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Run(context.Background()) }()

	second := &Runner{Plan: p, Dir: dir, Telemetry: noTelemetry{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	refused := make(chan error, 1)
	go func() { refused <- second.Run(ctx) }()
	select {
	case err = <-refused:
	case <-time.After(10 * time.Second):
		// Refusing takes microseconds; 10 s only guards against a busy
		// machine. Without the lock the second runner would wait on
		// the gate with the first, and write its records too.
		t.Error("the second runner was not refused at once")
		cancel()
		close(gate)
		err = <-refused
		gate = nil
	}
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "in use") ||
		!strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second runner: %v", err)
	}
	if gate != nil {
		close(gate)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	recs, _, err := ReadRequests(dir)
	if err != nil || len(recs) != 4 {
		t.Errorf("%d records (%v), want 4: the second runner must not have written", len(recs), err)
	}
	// The lock file stays behind, as after a kill -9: it must not block.
	if _, err := os.Stat(filepath.Join(dir, LockFile)); err != nil {
		t.Fatal(err)
	}
	again := &Runner{Plan: p, Dir: dir, Telemetry: noTelemetry{}}
	if err := again.Run(context.Background()); err != nil {
		t.Errorf("run after the first ended: %v", err)
	}
}

// TestRunStallKeepsRecords: a server that stops answering (it accepts
// and never sends headers) fails each request after stall_s, not after
// timeout_s; the run stops with the records it gathered on disk.
func TestRunStallKeepsRecords(t *testing.T) {
	var mu sync.Mutex
	n := 0
	quit := make(chan struct{})
	ok := fakeServer(t, nil)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		warm := n <= 2 // the two warm-up requests
		mu.Unlock()
		if warm {
			ok.Config.Handler.ServeHTTP(w, r)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-quit:
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(quit) }) // runs before s.Close
	p, data := fakePlan(t, s.URL)
	p.StallS = 0.3
	dir, err := Start(t.TempDir(), p, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = (&Runner{Plan: p, Dir: dir, Telemetry: noTelemetry{}}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "2 of 2 requests failed") || !strings.Contains(err.Error(), "stalled: no response headers") {
		t.Fatalf("run: %v", err)
	}
	// Two stalls of 0.3 s; 20 s is generous for a busy machine and far
	// below the 60 s timeout_s each request would otherwise wait.
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("took %v", el)
	}
	recs, _, err := ReadRequests(dir)
	if err != nil || len(recs) != 4 || !recs[0].OK() || !strings.Contains(recs[3].Error, "stalled") {
		t.Errorf("records kept: %d (%v); want 2 warm-ups and 2 stalled", len(recs), err)
	}
}
