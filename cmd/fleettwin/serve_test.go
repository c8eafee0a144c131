package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/internal/syncbuf"
)

type syncBuffer = syncbuf.Buffer

// serve starts `fleettwin serve` and returns its URL and a stop function
// that returns the exit code.
func serve(t *testing.T, args ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, append([]string{"serve"}, args...), &out, &errb) }()
	re := regexp.MustCompile(`http://\S+`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if u := re.FindString(out.String()); u != "" {
			return u, func() int { cancel(); return <-code }
		}
		select {
		case c := <-code:
			t.Fatalf("serve exited %d: %s", c, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no URL: %q %q", out.String(), errb.String())
		}
	}
}

func TestServe(t *testing.T) {
	data := t.TempDir()
	url, stop := serve(t, "--addr", "127.0.0.1:0", "--data", data, "--start", "seed-separate.toml", "--speed", "0")
	if strings.Contains(url, "token=") {
		t.Errorf("loopback needs no token: %s", url)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "seed-separate") {
		t.Errorf("GET %s: %d, no seed-separate run listed", url, resp.StatusCode)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url + "api/runs")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `"status": "done"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the started run did not finish: %s", b)
		}
	}
	if code := stop(); code != 0 {
		t.Errorf("serve exited %d after Ctrl-C", code)
	}
	runs, _ := filepath.Glob(filepath.Join(data, "runs", "*", "run.json"))
	if len(runs) != 1 {
		t.Fatalf("%d runs kept in %s", len(runs), data)
	}
	if b, _ := os.ReadFile(runs[0]); !strings.Contains(string(b), `"status": "done"`) {
		t.Errorf("kept run: %s", b)
	}
}

// Off loopback the dashboard demands a token, and makes one if none is
// given: it can start runs.
func TestServeOffLoopbackNeedsToken(t *testing.T) {
	url, stop := serve(t, "--addr", "0.0.0.0:0", "--data", t.TempDir())
	defer stop()
	if !regexp.MustCompile(`\?token=[0-9a-f]{32}$`).MatchString(url) {
		t.Fatalf("URL %s carries no generated token", url)
	}
	bare := strings.Split(url, "?")[0]
	if resp, err := http.Get(bare); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %v %v", err, resp.StatusCode)
	}
	if resp, err := http.Get(url); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("with the token: %v %v", err, resp.StatusCode)
	}
	_, stderr, code := fleettwin(t, "serve", "--addr", "nonsense")
	if code != 2 || !strings.Contains(stderr, "--addr") {
		t.Errorf("bad --addr: exit %d, %q", code, stderr)
	}
}

// The admission limits are at least one job each.
func TestServeLimits(t *testing.T) {
	for _, args := range [][]string{{"--max-runs", "0"}, {"--max-plans", "-1"}} {
		_, stderr, code := fleettwin(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, args...)...)
		if code != 2 || !strings.Contains(stderr, "--max-runs and --max-plans must be at least 1") {
			t.Errorf("serve %v: exit %d, %q", args, code, stderr)
		}
	}
}
