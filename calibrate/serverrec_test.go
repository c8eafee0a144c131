package calibrate

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/scenario"
)

// servers.json is rewritten whole as servers start and stop, and a
// resumed run appends to what the first wrote; the summary shows each
// server's latest start per mode.
func TestServerBook(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadServers(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no file: %v", err)
	}
	b, err := openBook(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	i, err := b.add(ServerRecord{Name: "vllm-8b", Sharing: scenario.MPS, Engine: "vllm", Managed: true, URL: "http://127.0.0.1:8000",
		Models: []string{"Qwen/Qwen3-8B"}, Command: []string{"vllm", "serve", "Qwen/Qwen3-8B"}, MemoryFraction: 0.35, MPSActiveThreadPct: 50, Started: start})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.update(i, func(r *ServerRecord) {
		r.Version, r.KV = "0.10.1", &KVInfo{Blocks: 4735, BlockTokens: 16, Tokens: 75760, Source: "vllm:cache_config_info num_gpu_blocks × block_size"}
	}); err != nil {
		t.Fatal(err)
	}
	m, _ := b.addMPS(MPSRecord{Sharing: scenario.MPS, Control: DefaultMPSControl, PipeDir: "/r/mps/pipe", Started: start})
	b.updateMPS(m, func(r *MPSRecord) { r.QuitError = "exit status 1" })

	again, err := openBook(dir) // a resumed run
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.add(ServerRecord{Name: "vllm-8b", Sharing: scenario.MPS, Engine: "vllm", Version: "0.10.2", Models: []string{"Qwen/Qwen3-8B"}, Exit: "signal: killed", Died: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := again.add(ServerRecord{Name: "127.0.0.1:9000", Engine: "vllm", URL: "http://127.0.0.1:9000"}); err != nil {
		t.Fatal(err)
	}
	if !again.has("http://127.0.0.1:9000") || again.has("http://127.0.0.1:8000") {
		t.Error("has: only unmanaged servers count as recorded")
	}
	recs, err := ReadServers(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs.Servers) != 3 || recs.Servers[0].KV.Blocks != 4735 || len(recs.MPS) != 1 {
		t.Fatalf("%+v", recs)
	}
	got := strings.Join(recs.Summary(), "\n")
	want := "server vllm-8b (mps): vllm 0.10.2 serving Qwen/Qwen3-8B; died: signal: killed\n" +
		"server 127.0.0.1:9000: vllm\n" +
		"mps daemon (mps): nvidia-cuda-mps-control, pipes in /r/mps/pipe; quit failed: exit status 1"
	if got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
	if s := recs.Servers[0].KV.String(); s != "4735 blocks of 16 tokens (75760 tokens; vllm:cache_config_info num_gpu_blocks × block_size)" {
		t.Errorf("KV %q", s)
	}
}

// A run recorded before servers.json held a list (one Ollama) reads as
// one record; a file that is neither is moved aside, not overwritten.
func TestReadServersOldFormats(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("..", "cmd", "fleettwin", "testdata", "calibrate-run", ServersFile))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ServersFile), old, 0o644)
	recs, err := ReadServers(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs.Servers) != 1 || recs.Servers[0].Engine != "ollama" || strings.Join(recs.Servers[0].Models, ",") != "ci-a,ci-b" || recs.Servers[0].Info["models"] == nil {
		t.Errorf("%+v", recs.Servers)
	}
	os.WriteFile(filepath.Join(dir, ServersFile), []byte(`{"colour": "red"}`), 0o644)
	if _, err := ReadServers(dir); err == nil || !strings.Contains(err.Error(), "neither a servers list") {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := openBook(dir); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, ServersFile+".unreadable")); err != nil || string(data) != `{"colour": "red"}` {
		t.Errorf("the unreadable file was not kept: %q, %v", data, err)
	}
}
