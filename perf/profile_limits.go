package perf

import "github.com/fleettwin/fleettwin/internal/tomlcheck"

// Bounds on a profile's numbers, far outside any real engine or device, so
// a hand-edited or hostile profile cannot push the step model's arithmetic
// to overflow (a step of 10³⁰⁰ s saturates the simulator's clock).
const (
	maxPrefillChunk = 1 << 20 // tokens
	maxOverhead     = 60.0    // seconds per step term, and admission lag
	maxInterference = 10      // extra slowdown per busy neighbour
	maxPowerW       = 1e5
	maxTempC        = 200.0
)

// checkPhysics bounds the fitted power and thermal models, reporting to
// errs as OutOfRange.
func (p *Profile) checkPhysics(errs *tomlcheck.Errors) {
	in := func(v, lo, hi float64, key ...string) {
		if !(v >= lo && v <= hi) {
			errs.AddKind(tomlcheck.OutOfRange, key, "must be in [%g, %g], got %v", lo, hi, v)
		}
	}
	if w := p.Power; w != nil {
		in(w.IdleW, 0, maxPowerW, "power", "idle_w")
		in(w.DynamicW, 0, maxPowerW, "power", "dynamic_w")
	}
	if t := p.Thermal; t != nil {
		in(t.ResistanceCPerW, 0, 100, "thermal", "resistance_c_per_w")
		in(t.CapacityJPerC, 0, 1e9, "thermal", "capacity_j_per_c")
		in(t.AmbientC, -50, maxTempC, "thermal", "ambient_c")
		in(t.TimeConstantS, 0, 1e7, "thermal", "time_constant_s")
		in(t.ThrottleOnsetC, 0, maxTempC, "thermal", "throttle_onset_c")
	}
}
