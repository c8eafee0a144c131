package jobs

import (
	"context"
	"errors"
	"io"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/calibrate"
)

// plan is a calibration plan against a server nobody runs.
const plan = `name = "unreachable"
hardware = "dgx-spark"
engine = "vllm"

[[models]]
name = "Qwen/Qwen3-8B"
arch = "qwen3-8b"
format = "bf16"
url = "http://127.0.0.1:1/v1"
max_seqs = 4

[experiments]
concurrency = [1]
inputs = [16]
outputs = [4]
requests = 1
`

// A calibration started here ends: failed with the job's cause first,
// stopped when stopped, never "measuring" once its job has returned; its
// experiments are a list (the page's script maps them), never null.
func TestCalibrationEnds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		run     func(ctx context.Context) error
		stop    bool
		outcome string
		errLine string
	}{
		{"failed", func(context.Context) error {
			return errors.New(`measure Qwen/Qwen3-8B: dial tcp 127.0.0.1:1: connect: connection refused`)
		}, false, CalFailed, "measure Qwen/Qwen3-8B: dial tcp 127.0.0.1:1: connect: connection refused"},
		{"stopped", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, true, CalStopped, "stopped before every experiment was recorded"},
		{"crashed", func(context.Context) error { panic("boom") }, false, CalFailed, "the calibration crashed (a bug; the server log has the stack): boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(t, t.TempDir())
			cfg.Logger = log.New(io.Discard, "", 0) // the crash's stack
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := OpenCalibrations(ctx, cfg, []string{t.TempDir()}, "")
			defer c.Close()
			started := make(chan struct{})
			c.Run = func(ctx context.Context, _ *calibrate.Plan, _ string, _ bool, _ io.Writer) error {
				close(started)
				return tc.run(ctx)
			}
			id, err := c.Start("plan.toml", []byte(plan), nil)
			if err != nil {
				t.Fatal(err)
			}
			<-started
			if tc.stop {
				if st, _ := c.Watch(id); st.Outcome != CalMeasuring || !st.Running {
					t.Errorf("while it measures: outcome %q, running %v", st.Outcome, st.Running)
				}
				if !c.Stop(id) {
					t.Fatal("Stop found no calibration")
				}
			}
			var st CalState
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
				if st, _ = c.Watch(id); st.Outcome != CalMeasuring {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still %q a minute after its job returned: %+v", st.Outcome, st)
				}
			}
			if st.Outcome != tc.outcome || st.Running || !strings.HasPrefix(st.Error, tc.errLine) || st.Exps == nil {
				t.Errorf("outcome %q (want %q), running %v, experiments nil %v, error %q (want it to start %q)",
					st.Outcome, tc.outcome, st.Running, st.Exps == nil, st.Error, tc.errLine)
			}
			if running, _ := c.JobError(id); running || c.Running() != "" {
				t.Errorf("the job still counts as running")
			}
		})
	}
}
