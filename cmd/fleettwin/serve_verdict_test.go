package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serve --start seed-colocated.toml (what make run does) starts its
// baseline, a Spark per model, beside it, and the runs page opens with
// the claim's verdict against it.
func TestServeStartsTheBaseline(t *testing.T) {
	data := t.TempDir()
	url, stop := serve(t, "--addr", "127.0.0.1:0", "--data", data, "--start", "seed-colocated.toml", "--speed", "0")
	defer stop()
	var runs []struct {
		Name, Status, Baseline string
		ID                     string `json:"id"`
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url + "api/runs")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		runs = nil
		if err := json.Unmarshal(b, &runs); err != nil {
			t.Fatal(err)
		}
		if len(runs) == 2 && runs[0].Status == "done" && runs[1].Status == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the started runs did not finish: %s", b)
		}
	}
	names := map[string]string{}
	for _, r := range runs {
		names[r.Name] = r.ID
	}
	if names["seed-colocated"] == "" || names["seed-separate"] == "" {
		t.Fatalf("runs %v, want seed-colocated and seed-separate", names)
	}
	for _, r := range runs {
		if r.Name == "seed-colocated" && r.Baseline != names["seed-separate"] {
			t.Errorf("seed-colocated's baseline %q, want %q", r.Baseline, names["seed-separate"])
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range []string{`data-testid="verdict"`, "hardware spend 50.0% lower", "qwen3-14b misses TTFT p95 3.58 s &gt; 3 s"} {
		if !strings.Contains(string(body), w) {
			t.Errorf("runs page lacks %q", w)
		}
	}
}

// A taken port fails serve before it starts anything: no stray run is
// left in the data dir.
func TestServeTakenPortStartsNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := t.TempDir()
	_, stderr, code := fleettwin(t, "serve", "--addr", ln.Addr().String(), "--data", data, "--start", "seed-colocated.toml", "--speed", "0")
	if code == 0 || !strings.Contains(stderr, "address already in use") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if runs, _ := filepath.Glob(filepath.Join(data, "runs", "*")); len(runs) != 0 {
		t.Errorf("a taken port left %d runs behind: %v", len(runs), runs)
	}
}
