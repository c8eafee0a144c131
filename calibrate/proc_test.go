package calibrate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// groupMembers lists the live (not zombie) processes of process group
// pgid, from /proc: what a server leaves running.
func groupMembers(t testing.TB, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

// waitGone waits (up to 5 s: the kernel reaps asynchronously) until
// process group pgid has no live member.
func waitGone(t testing.TB, pgid int) []int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := groupMembers(t, pgid)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the whole process group (children a server forked too), by
// SIGTERM, or by SIGKILL after the grace when the group ignores SIGTERM.
func TestProcessStopEndsGroup(t *testing.T) {
	for _, c := range []struct {
		name   string
		script string
		grace  time.Duration
		killed bool // SIGTERM ignored: SIGKILL after the grace
	}{
		{"sigterm", "sleep 300 & sleep 300 & wait", 5 * time.Second, false},
		{"ignores sigterm", `trap "" TERM; sleep 300 & sleep 300 & wait`, 300 * time.Millisecond, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p, err := startProcess("s", []string{"sh", "-c", c.script}, nil, nil, filepath.Join(dir, "s.log"), "test")
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(groupMembers(t, p.pid())) < 3 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond) // sh and its two sleeps
			}
			if n := len(groupMembers(t, p.pid())); n < 3 {
				t.Fatalf("%d processes in the group, want 3", n)
			}
			start := time.Now()
			p.stop(c.grace)
			took := time.Since(start)
			if left := waitGone(t, p.pid()); len(left) > 0 {
				t.Errorf("processes %v of the group outlived stop", left)
			}
			if c.killed && took < c.grace {
				t.Errorf("stopped in %v, before the %v grace: was SIGTERM ignored?", took, c.grace)
			}
			if !c.killed && took > 3*time.Second {
				t.Errorf("SIGTERM took %v", took)
			}
			p.stop(c.grace) // again: a no-op
		})
	}
}

// The server gets the plan's environment on top of the inherited one,
// less the MPS variables of a mode without MPS; its output and the run's
// header and exit lines go to its log, which a resumed run appends to.
func TestProcessEnvAndLog(t *testing.T) {
	t.Setenv("CUDA_MPS_PIPE_DIRECTORY", "/tmp/someone-elses-mps")
	t.Setenv("FLEETTWIN_TEST_INHERITED", "kept")
	log := filepath.Join(t.TempDir(), "servers", "s.log")
	for i := range 2 {
		p, err := startProcess("s", []string{"sh", "-c", `echo "pipe=[$CUDA_MPS_PIPE_DIRECTORY] inherited=$FLEETTWIN_TEST_INHERITED foo=$FOO"`},
			[]string{"FOO=bar", "FOO=baz"}, mpsEnvNames, log, "start "+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		<-p.done
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{": start 0\n", ": start 1\n", "pipe=[] inherited=kept foo=baz\n", "=== fleettwin calibrate: exited: exit status 0"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log lacks %q:\n%s", want, data)
		}
	}
	if tail := logTail(log, 5, 1<<10); strings.Contains(tail, "===") || !strings.HasPrefix(tail, "pipe=[]") {
		t.Errorf("tail %q: the run's own lines are not the server's", tail)
	}
}

func TestWaitReady(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
		}
	}))
	defer healthy.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens there now
	for _, c := range []struct {
		name, script, url string
		timeout           time.Duration
		want              []string // in the error; none: ready
	}{
		{"ready", "sleep 30", healthy.URL + "/health", 5 * time.Second, nil},
		{"exits at start", "echo 'loading model'; echo 'CUDA out of memory' >&2; exit 3", closed.URL + "/health", 10 * time.Second,
			[]string{"server s exited at start (exit status 3)", "    CUDA out of memory", "its log is "}},
		{"never ready", "echo still loading; sleep 30", healthy.URL + "/nope", 600 * time.Millisecond,
			[]string{"server s was not ready after 1 s (GET " + healthy.URL + "/nope: HTTP 404; raise its ready_s", "still loading"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := startProcess("s", []string{"sh", "-c", c.script}, nil, nil, filepath.Join(t.TempDir(), "s.log"), "test")
			if err != nil {
				t.Fatal(err)
			}
			defer p.stop(time.Second)
			err = p.waitReady(context.Background(), c.url, c.timeout, t.Logf)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var se *ServerError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *ServerError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	// A cancel ends the wait at once.
	p, err := startProcess("s", []string{"sleep", "30"}, nil, nil, filepath.Join(t.TempDir(), "s.log"), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := p.waitReady(ctx, closed.URL, time.Minute, t.Logf); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled wait: %v", err)
	}
}

func TestStartProcessErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := startProcess("vllm-8b", []string{filepath.Join(dir, "no-such-vllm")}, nil, nil, filepath.Join(dir, "s.log"), "test")
	if err == nil || !strings.Contains(err.Error(), "server vllm-8b: start "+filepath.Join(dir, "no-such-vllm")) {
		t.Errorf("missing binary: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "s.log")); !strings.Contains(string(data), "could not start") {
		t.Errorf("the log does not say it could not start: %q", data)
	}
}

func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 100 {
		b.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	b.WriteString("=== fleettwin calibrate: exited: signal: killed\n")
	os.WriteFile(path, []byte(b.String()), 0o644)
	for _, c := range []struct {
		n, max int
		want   string
	}{
		{3, 1 << 10, "line 97\nline 98\nline 99"},
		{50, 70, "line 98\nline 99"}, // the byte bound cuts to whole lines
	} {
		if got := logTail(path, c.n, c.max); got != c.want {
			t.Errorf("logTail(%d, %d) = %q, want %q", c.n, c.max, got, c.want)
		}
	}
	if got := logTail(filepath.Join(t.TempDir(), "none"), 3, 100); got != "" {
		t.Errorf("missing log: %q", got)
	}
}

func TestExpandPlaceholders(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"--port={port}", "--port=8000"},
		{"{dir}/servers/{name}.sock", "/runs/r1/servers/vllm-8b.sock"},
		{`{"temperature": 0}`, `{"temperature": 0}`}, // JSON arguments keep their braces
		{"{ports}", "{ports}"},
	} {
		if got := expand(c.in, 8000, "/runs/r1", "vllm-8b"); got != c.want {
			t.Errorf("expand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
