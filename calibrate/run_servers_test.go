package calibrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/scenario"
)

// A plan with [[servers]] names programs to run: a Runner not given
// ServerOptions (a dashboard handed a pasted plan) refuses it before
// starting anything.
func TestRunRefusesServersWithoutOptions(t *testing.T) {
	cat := ciCatalog(t)
	data := []byte(colocationPlan(t))
	p, err := ParsePlan("plan.toml", data, cat)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := Start(t.TempDir(), p, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = (&Runner{Plan: p, Dir: dir, Telemetry: noTelemetry{}}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "plan ci-colocation starts its own servers ([[servers]]): only `fleettwin calibrate run` starts server processes") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "servers")); !os.IsNotExist(err) {
		t.Errorf("a server log folder exists: %v", err)
	}
}

// A server that exits while loading fails the run with its name, its exit
// and the end of its log; the other server, still loading, is stopped
// (its whole process group), and both stops are recorded.
func TestRunServerFailsToStart(t *testing.T) {
	data := edit(vllmPlan,
		`sharing = ["time-slice", "mps"]`, `sharing = ["time-slice"]`,
		"mps_active_thread_pct = 50\n", "",
		"port = 8000\n", "", "port = 8001\n", "",
		`command = ["vllm", "serve", "Qwen/Qwen3-8B", "--port", "{port}", "--gpu-memory-utilization", "0.35"]`,
		`command = ["sh", "-c", "echo loading Qwen/Qwen3-8B on port {port}; sleep 0.3; echo 'torch.OutOfMemoryError: CUDA out of memory' >&2; exit 1"]`,
		`command = ["vllm", "serve", "Qwen/Qwen3-14B", "--port", "{port}"]`,
		`command = ["sh", "-c", "sleep 300 & sleep 300; wait"]`)
	p, err := ParsePlan("plan.toml", []byte(data), catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := Start(t.TempDir(), p, []byte(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = (&Runner{Plan: p, Dir: dir, Telemetry: noTelemetry{}, Servers: &ServerOptions{}}).Run(context.Background())
	for _, want := range []string{"mode time-slice: server vllm-8b exited at start (exit status 1); its log is " + filepath.Join(dir, "servers", "vllm-8b.log"),
		"    torch.OutOfMemoryError: CUDA out of memory", "resume with --resume " + dir} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	recs, rerr := ReadServers(dir)
	if rerr != nil || len(recs.Servers) != 2 {
		t.Fatalf("servers.json: %+v, %v", recs, rerr)
	}
	for _, r := range recs.Servers {
		if r.Stopped == nil || !r.Managed || r.PID == 0 || r.Log != filepath.Join("servers", r.Name+".log") {
			t.Errorf("record %+v", r)
		}
		if left := waitGone(t, r.PID); len(left) > 0 {
			t.Errorf("server %s left processes %v", r.Name, left)
		}
	}
	if !strings.Contains(strings.Join(recs.Servers[0].Command, " ")+strings.Join(recs.Servers[1].Command, " "), "on port ") {
		t.Errorf("commands %q %q", recs.Servers[0].Command, recs.Servers[1].Command)
	}
	st, _ := ReadState(dir)
	if st == nil || !strings.Contains(st.Note, "stopped starting the time-slice servers: ") || st.Finished {
		t.Errorf("state %+v", st)
	}
}

// A server's argv and environment: placeholders expanded, the plan's env,
// the MPS daemon's pipes and the SM cap only in a mode with the daemon,
// and for kind = "ollama" its own host, store and parallelism.
func TestServerCommand(t *testing.T) {
	p, err := ParsePlan("plan.toml", []byte(edit(vllmPlan, "port = 8001\n", "port = 8001\nenv = { VLLM_LOGGING_LEVEL = \"DEBUG\", CACHE = \"{dir}/cache-{name}\" }\n")), catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &Runner{Plan: p, Dir: dir, Servers: &ServerOptions{Ollama: "/opt/ollama"}}
	mps := &mpsDaemon{pipe: "/r/mps/pipe", log: "/r/mps/log"}
	specs := p.modeServers(scenario.MPS)
	for _, c := range []struct {
		name     string
		spec     serverSpec
		mps      *mpsDaemon
		argv     string
		env      []string // KEY=value each, in this order (sorted)
		noMPSEnv bool
	}{
		{"mps, capped", specs[0], mps, "vllm serve Qwen/Qwen3-8B --port 8000 --gpu-memory-utilization 0.35",
			[]string{"CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=50", "CUDA_MPS_LOG_DIRECTORY=/r/mps/log", "CUDA_MPS_PIPE_DIRECTORY=/r/mps/pipe"}, false},
		{"mps, env", specs[1], mps, "vllm serve Qwen/Qwen3-14B --port 8001",
			[]string{"CACHE=" + dir + "/cache-vllm-14b", "CUDA_MPS_LOG_DIRECTORY=/r/mps/log", "CUDA_MPS_PIPE_DIRECTORY=/r/mps/pipe", "VLLM_LOGGING_LEVEL=DEBUG"}, false},
		{"time-slice", p.modeServers(scenario.TimeSlice)[0], nil, "vllm serve Qwen/Qwen3-8B --port 8000 --gpu-memory-utilization 0.35", nil, true},
	} {
		argv, env, set, err := r.serverCommand(c.spec, c.spec.Port, c.mps)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(argv, " ") != c.argv || strings.Join(env, " ") != strings.Join(c.env, " ") || len(set) != len(c.env) {
			t.Errorf("%s: argv %q\nenv %q\nwant %q", c.name, argv, env, c.env)
		}
	}

	// kind = "ollama": the binary given, its own port, store and HOME
	// under the Ollama home, one sequence slot per max_seqs.
	op, err := ParsePlan("plan.toml", []byte(colocationPlan(t)), ciCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	r = &Runner{Plan: op, Dir: filepath.Join(dir, "runs", "r1"), Servers: &ServerOptions{Ollama: "/opt/ollama", Home: filepath.Join(dir, "home")}}
	argv, _, set, err := r.serverCommand(op.modeServers(scenario.MPS)[1], 12345, nil)
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home", "servers", "ollama-b")
	if strings.Join(argv, " ") != "/opt/ollama serve" || set["OLLAMA_HOST"] != "127.0.0.1:12345" || set["HOME"] != home ||
		set["OLLAMA_MODELS"] != filepath.Join(home, "models") || set["OLLAMA_NUM_PARALLEL"] != "4" || set["OLLAMA_MAX_LOADED_MODELS"] != "1" {
		t.Errorf("ollama: argv %q env %v", argv, set)
	}
	r.Servers.Ollama = ""
	if _, _, _, err := r.serverCommand(op.modeServers(scenario.MPS)[0], 1, nil); err == nil || !strings.Contains(err.Error(), "server ollama-a: kind = \"ollama\" with no command needs an Ollama binary (calibrate run --ollama BIN)") {
		t.Errorf("no binary: %v", err)
	}
}
