package calibrate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/scenario"
)

// TestOllamaSharingModes runs the co-location plan in two sharing modes,
// time-slice then mps, with a stand-in for nvidia-cuda-mps-control (there
// is no GPU here): the servers are started and stopped once per mode, the
// MPS daemon is started before the mps mode's servers and quit after them,
// with pipes under the run folder that the mps servers are given (and
// the time-slice servers are not), and each mode's experiments carry it.
// A second run is cancelled during the mps mode, as Ctrl-C does: it
// returns at once, leaving no server process and no daemon behind.
func TestOllamaSharingModes(t *testing.T) {
	edits := append([]string{`name = "ci-colocation"`, "name = \"ci-colocation\"\nsharing = [\"time-slice\", \"mps\"]",
		"models = [\"ci-b\"]", "models = [\"ci-b\"]\nmps_active_thread_pct = 50"}, smallGrid...)
	cat, p, planData, dir := ciColocation(t, edits...)
	bin, calls := fakeMPSControl(t, t.TempDir(), 0)
	runDir, err := Start(filepath.Join(dir, "runs"), p, planData, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := managed(t, cat, p, runDir, testWriter{t})
	r.Servers.MPSControl = bin
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := serversGone(t, runDir)
	pipe := filepath.Join(runDir, "mps", "pipe")
	if abs, err := filepath.Abs(pipe); err == nil {
		pipe = abs
	}
	got, _ := os.ReadFile(calls)
	if want := "args=[-d] stdin=[] pipe=" + pipe + " log=" + filepath.Join(filepath.Dir(pipe), "log") + "\nargs=[] stdin=[quit] pipe=" + pipe + " log=" + filepath.Join(filepath.Dir(pipe), "log") + "\n"; string(got) != want {
		t.Errorf("MPS control calls:\n%s\nwant:\n%s", got, want)
	}
	if len(recs.Servers) != 4 || len(recs.MPS) != 1 || recs.MPS[0].Stopped == nil || recs.MPS[0].QuitError != "" {
		t.Fatalf("servers.json: %d servers, MPS %+v", len(recs.Servers), recs.MPS)
	}
	daemon := recs.MPS[0]
	for _, s := range recs.Servers {
		pct := s.Env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"]
		switch s.Sharing {
		case scenario.TimeSlice:
			if s.Env["CUDA_MPS_PIPE_DIRECTORY"] != "" || pct != "" || s.Stopped.After(daemon.Started) {
				t.Errorf("time-slice server %s: env %v, stopped %v (daemon started %v)", s.Name, s.Env, s.Stopped, daemon.Started)
			}
		case scenario.MPS:
			if s.Env["CUDA_MPS_PIPE_DIRECTORY"] != pipe || s.Started.Before(daemon.Started) || s.Stopped.After(*daemon.Stopped) {
				t.Errorf("mps server %s: env %v, %v-%v outside the daemon's %v-%v", s.Name, s.Env, s.Started, s.Stopped, daemon.Started, daemon.Stopped)
			}
			if (s.Name == "ollama-b") != (pct == "50" && s.MPSActiveThreadPct == 50) {
				t.Errorf("mps server %s: active thread percentage %q (%v)", s.Name, pct, s.MPSActiveThreadPct)
			}
		default:
			t.Errorf("server %s: sharing %q", s.Name, s.Sharing)
		}
	}
	run, err := LoadRun(runDir, cat)
	if err != nil {
		t.Fatal(err)
	}
	modes := map[scenario.Sharing]int{}
	for _, e := range run.Experiments {
		if m := run.Measured[e.ID]; m == nil {
			t.Errorf("%s: no records", e.ID)
		}
		if strings.HasSuffix(e.ID, "-mps") != (e.Sharing == scenario.MPS) {
			t.Errorf("%s: sharing %s", e.ID, e.Sharing)
		}
		modes[e.Sharing]++
	}
	if modes[scenario.TimeSlice] != 3 || modes[scenario.MPS] != 3 {
		t.Errorf("experiments per mode %v, want 3 each (a alone, b alone, together)", modes)
	}

	// Cancel during the mps mode.
	os.Remove(calls)
	runDir2, err := Start(filepath.Join(dir, "runs"), p, planData, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			recs, _, _ := ReadRequests(runDir2)
			if slices.ContainsFunc(recs, func(r RequestRecord) bool { return strings.HasSuffix(r.Experiment, "-mps") }) {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	r2 := managed(t, cat, p, runDir2, testWriter{t})
	r2.Servers.MPSControl = bin
	err = r2.Run(ctx)
	cancelled := time.Now()
	if err == nil || !strings.Contains(err.Error(), "interrupted during ") || !strings.Contains(err.Error(), "-mps") {
		t.Errorf("cancelled run: %v", err)
	}
	recs2 := serversGone(t, runDir2)
	if time.Since(cancelled) > 10*time.Second {
		t.Errorf("cancelled run took %v to stop its servers", time.Since(cancelled))
	}
	if len(recs2.Servers) != 4 || len(recs2.MPS) != 1 || recs2.MPS[0].Stopped == nil {
		t.Errorf("cancelled run's servers.json: %d servers, MPS %+v", len(recs2.Servers), recs2.MPS)
	}
	if got, _ := os.ReadFile(calls); strings.Count(string(got), "args=[-d]") != 1 || strings.Count(string(got), "stdin=[quit]") != 1 {
		t.Errorf("MPS control calls of the cancelled run:\n%s", got)
	}
}
