package power

import (
	"math"
	"testing"
)

func TestAdvanceApproachesSteadyState(t *testing.T) {
	rc := RC{ResistanceCPerW: 0.4, CapacityJPerC: 500, AmbientC: 25}
	const watts = 100
	temp, area, elapsed := rc.AmbientC, 0.0, 0.0
	// Uneven steps: the result must not depend on how time is cut.
	for i := 0; elapsed < 20*rc.Tau(); i++ {
		dt := 0.5 + float64(i%7)
		end, integral := rc.Advance(temp, watts, dt)
		if end < temp || end > rc.Steady(watts) {
			t.Fatalf("step %d: %v -> %v leaves [start, steady]", i, temp, end)
		}
		if lo, hi := temp*dt, end*dt; integral < lo-1e-9 || integral > hi+1e-9 {
			t.Fatalf("step %d: ∫T dt = %v outside [%v, %v]", i, integral, lo, hi)
		}
		temp, area, elapsed = end, area+integral, elapsed+dt
	}
	if want := 65.0; math.Abs(temp-want) > 1e-6 {
		t.Errorf("after 20 τ: %v C, want the steady %v C", temp, want)
	}
	// One step over the same time gives the same temperature and area.
	end, integral := rc.Advance(rc.AmbientC, watts, elapsed)
	if math.Abs(end-temp) > 1e-9 || math.Abs(integral-area) > 1e-6*area {
		t.Errorf("one step: %v C, ∫ %v; many steps: %v C, ∫ %v", end, integral, temp, area)
	}
	// Analytic: ∫ over [0, τ] from ambient is R·P·τ/e + ambient·τ.
	_, i1 := rc.Advance(rc.AmbientC, watts, rc.Tau())
	if want := rc.AmbientC*rc.Tau() + rc.ResistanceCPerW*watts*rc.Tau()/math.E; math.Abs(i1-want) > 1e-9*want {
		t.Errorf("∫ over τ = %v, want %v", i1, want)
	}
}

func TestDrawIsCappedAndMonotone(t *testing.T) {
	m := Model{IdleW: 30, BusyW: 20, ComputeW: 100, MemoryW: 70, CapW: 140}
	prev := 0.0
	for _, a := range []Activity{{}, {Busy: 0.5}, {Busy: 1, MBU: 0.5}, {Busy: 1, MBU: 0.8, MFU: 0.2}, {Busy: 1, MBU: 1, MFU: 1}} {
		p := m.Draw(a, 1)
		if p < prev || p > m.CapW {
			t.Errorf("Draw(%+v) = %v after %v (cap %v)", a, p, prev, m.CapW)
		}
		prev = p
	}
	if got := m.Draw(Activity{}, 0.5); got != m.IdleW {
		t.Errorf("idle at half clock draws %v, want %v", got, m.IdleW)
	}
	if full, half := m.Draw(Activity{Busy: 1, MFU: 0.3}, 1), m.Draw(Activity{Busy: 1, MFU: 0.3}, 0.5); !(half < full) {
		t.Errorf("a lower clock should draw less: %v at 0.5, %v at 1", half, full)
	}
}

func TestGovernor(t *testing.T) {
	g := Governor{SlowdownC: 82, HysteresisC: 3, MinClock: 0.4}
	m := Model{IdleW: 30, BusyW: 35, ComputeW: 60, MemoryW: 30, CapW: 100}
	rc := RC{ResistanceCPerW: 0.7, CapacityJPerC: 300, AmbientC: 35} // holds 82 C at 67.1 W
	hold := (g.SlowdownC - rc.AmbientC) / rc.ResistanceCPerW
	light := Activity{Busy: 0.2, MBU: 0.1} // 40 W: cools by itself
	decode := Activity{Busy: 1, MFU: 0.03, MBU: 0.75}
	prefill := Activity{Busy: 1, MFU: 0.9, MBU: 0.2}
	drawAt := func(a Activity, f0, f float64) float64 { a.MFU *= f / f0; return m.Uncapped(a, f) }
	for _, tc := range []struct {
		name   string
		c      Clocks
		a      Activity
		temp   float64
		reason Reason
		check  func(Clocks) bool
	}{
		{"cool", Full, decode, 60, None, func(c Clocks) bool { return c == Full }},
		{"hot, light load", Full, light, 83, None, func(c Clocks) bool { return c == Full }},
		{"hot, decode", Full, decode, 82, Thermal, func(c Clocks) bool {
			return c.Thermal < 1 && math.Abs(drawAt(decode, 1, c.Thermal)-hold) < 1e-6
		}},
		{"in the hysteresis band, held", Clocks{0.7, 1}, decode, 80, Thermal, func(c Clocks) bool {
			return math.Abs(drawAt(decode, 0.7, c.Thermal)-hold) < 1e-6
		}},
		{"cooled below the band", Clocks{0.7, 1}, decode, 78.9, None, func(c Clocks) bool { return c == Full }},
		{"over the cap", Full, prefill, 60, PowerCap, func(c Clocks) bool {
			return c.Power < 1 && math.Abs(drawAt(prefill, 1, c.Power)-m.CapW) < 1e-6
		}},
		{"hot and over the cap", Full, prefill, 90, Thermal | PowerCap, func(c Clocks) bool { return c.Thermal < c.Power && c.Power < 1 }},
	} {
		got := g.Next(tc.c, m, rc, tc.a, tc.temp)
		if !tc.check(got) || got.Reason() != tc.reason {
			t.Errorf("%s: %+v (reason %q)", tc.name, got, got.Reason())
		}
	}
	hot := RC{ResistanceCPerW: 2, CapacityJPerC: 100, AmbientC: 40} // holding power below idle
	if got := g.Next(Full, m, hot, decode, 85); got.Thermal != g.MinClock {
		t.Errorf("unholdable: thermal clock %v, want the floor %v", got.Thermal, g.MinClock)
	}
	if got := (Governor{Disabled: true}).Next(Clocks{0.5, 0.5}, m, rc, prefill, 120); got != Full {
		t.Errorf("disabled governor: %+v", got)
	}
}

// A device under constant load, stepped the way the simulator steps it,
// settles at the slowdown temperature and no higher.
func TestGovernorHoldsSlowdownTemperature(t *testing.T) {
	g := Governor{SlowdownC: 82, HysteresisC: 3, MinClock: 0.4}
	m := Model{IdleW: 30, BusyW: 35, ComputeW: 60, MemoryW: 30, CapW: 140}
	rc := RC{ResistanceCPerW: 0.7, CapacityJPerC: 300, AmbientC: 35}
	a := Activity{Busy: 1, MFU: 0.03, MBU: 0.75}
	c, temp, peak := Full, rc.Steady(m.IdleW), 0.0
	for range 3000 {
		temp, _ = rc.Advance(temp, m.Draw(a, c.Clock()), 1)
		peak = max(peak, temp)
		c = c.next(g, m, rc, a, temp)
	}
	if math.Abs(temp-g.SlowdownC) > 0.5 || peak > g.SlowdownC+1 {
		t.Errorf("settled at %.2f C (peak %.2f), want about %v", temp, peak, g.SlowdownC)
	}
	if c.Clock() >= 1 || c.Clock() <= g.MinClock {
		t.Errorf("clock %v: want throttled, above the floor", c.Clock())
	}
}

// next applies the governor with activity scaled to the clock it runs at.
func (c Clocks) next(g Governor, m Model, rc RC, a Activity, temp float64) Clocks {
	a.MFU *= c.Clock()
	return g.Next(c, m, rc, a, temp)
}
