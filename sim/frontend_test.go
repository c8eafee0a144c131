package sim

import (
	"testing"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/perf"
)

func TestFrontEndQueue(t *testing.T) {
	ms := engine.FromSeconds(1e-3)
	for _, c := range []struct {
		name     string
		sv       perf.Serving
		arrivals []engine.Time
		want     []engine.Time
	}{
		{"latency only", perf.Serving{RequestS: 0.05}, []engine.Time{0, 0, 10 * ms}, []engine.Time{50 * ms, 50 * ms, 60 * ms}},
		{"burst queues at 100 rps", perf.Serving{FrontendRPS: 100}, []engine.Time{0, 0, 0}, []engine.Time{10 * ms, 20 * ms, 30 * ms}},
		{"idle gap resets", perf.Serving{FrontendRPS: 100, RequestS: 0.001}, []engine.Time{0, 100 * ms}, []engine.Time{11 * ms, 111 * ms}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFrontEnd(&c.sv)
			for i, at := range c.arrivals {
				if got := f.pass(int32(i), at); got != c.want[i] {
					t.Errorf("request %d arriving at %v reaches the engine at %v, want %v", i, at, got, c.want[i])
				}
			}
			for i := range c.arrivals {
				if id := f.next(); id != int32(i) {
					t.Errorf("next = %d, want %d (arrival order)", id, i)
				}
			}
		})
	}
	if newFrontEnd(nil) != nil || newFrontEnd(&perf.Serving{StepS: 1}) != nil {
		t.Error("a profile without front-end terms must have no front end")
	}
}

func TestSchedulerTerm(t *testing.T) {
	base := fixedStep{0.01}
	for _, c := range []struct {
		name string
		sv   *perf.Serving
		b    perf.Batch
		want float64
	}{
		{"nil", nil, perf.Batch{DecodeSeqs: 8}, 0},
		{"per step", &perf.Serving{StepS: 1e-3}, perf.Batch{DecodeSeqs: 8}, 1e-3},
		{"per sequence", &perf.Serving{StepS: 1e-3, StepPerSeqS: 1e-4}, perf.Batch{DecodeSeqs: 8, PrefillSeqs: 2}, 2e-3},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := withServing(base, c.sv).Step(c.b).Overhead - base.Step(c.b).Overhead
			if d := got - c.want; d > 1e-15 || d < -1e-15 {
				t.Errorf("scheduler time %v, want %v", got, c.want)
			}
		})
	}
	if _, wrapped := withServing(base, &perf.Serving{RequestS: 1}).(*servingCost); wrapped {
		t.Error("front-end terms alone must leave the step cost unwrapped")
	}
}
