// Package power models what a device draws and how hot it gets: power as a
// function of activity and clock, a first-order thermal circuit, and the
// governor that lowers clocks at a power cap or a slowdown temperature, the
// way GPU firmware does. It is pure arithmetic; the simulator supplies the
// activity and applies the clock to its step times.
package power

import "math"

// Activity is what a device did over a span, in full-clock terms.
type Activity struct {
	Busy float64 // share of time a step was running (nvidia-smi utilization)
	MFU  float64 // FLOP/s over the full-clock peak
	MBU  float64 // bytes/s over the peak bandwidth
}

// Model is a device's electrical draw. The SM-side terms scale with clock²
// at a given activity (dynamic power goes as f·V², and voltage follows the
// clock part of the way); the memory term does not depend on the SM clock.
type Model struct {
	IdleW    float64 // nothing running
	BusyW    float64 // added while a step runs at full clock (the term calibration fits from NVML utilization)
	ComputeW float64 // added at 100% of peak FLOP/s at full clock
	MemoryW  float64 // added at 100% of peak bandwidth
	CapW     float64 // the device's power limit; 0 means none
}

// Draw is the device's power at an activity and clock, capped at CapW: the
// governor holds the cap on a millisecond scale, faster than the
// simulator's control interval.
func (m Model) Draw(a Activity, clock float64) float64 {
	p := m.Uncapped(a, clock)
	if m.CapW > 0 && p > m.CapW {
		return m.CapW
	}
	return p
}

// Uncapped is the draw the activity and clock ask for, before the cap.
func (m Model) Uncapped(a Activity, clock float64) float64 {
	f2 := clock * clock
	return m.IdleW + (m.BusyW*a.Busy+m.ComputeW*a.MFU)*f2 + m.MemoryW*a.MBU
}

// RC is a first-order thermal circuit: C dT/dt = P − (T − ambient)/R.
type RC struct {
	ResistanceCPerW float64
	CapacityJPerC   float64
	AmbientC        float64
}

// Steady is the temperature the device settles at under constant power.
func (rc RC) Steady(watts float64) float64 { return rc.AmbientC + rc.ResistanceCPerW*watts }

// Tau is the time constant in seconds.
func (rc RC) Tau() float64 { return rc.ResistanceCPerW * rc.CapacityJPerC }

// Advance returns the temperature after dt seconds at constant power from
// temperature t, and ∫T dt over the span; both exact to a few ulps.
func (rc RC) Advance(t, watts, dt float64) (end, integral float64) {
	inf := rc.Steady(watts)
	tau := rc.Tau()
	if tau <= 0 {
		return inf, inf * dt
	}
	decay := decayOver(dt / tau)
	end = t + (inf-t)*decay
	integral = inf*dt + (t-inf)*tau*decay
	return end, integral
}

// Governor lowers the clock to hold the power cap and the slowdown
// temperature, as NVIDIA's firmware does for SW power cap and thermal
// slowdown. Once the device reaches SlowdownC it is held there: the clock
// drops to what draws no more than the power at which the temperature
// settles at SlowdownC, until it has cooled HysteresisC below.
type Governor struct {
	SlowdownC   float64 // thermal slowdown engages at or above this
	HysteresisC float64 // and releases once this far below it
	MinClock    float64 // the lowest clock the device drops to
	Disabled    bool    // never throttle: the counterfactual for what throttling cost
}

// Reason says why a clock is below full.
type Reason uint8

const (
	None    Reason = 0
	Thermal Reason = 1 << iota
	PowerCap
)

// Clocks is the governor's state.
type Clocks struct {
	Thermal float64 // clock the temperature allows
	Power   float64 // clock the power cap allows
}

// Clock is the clock the device runs at.
func (c Clocks) Clock() float64 { return min(c.Thermal, c.Power) }

// Reason says what holds the clock down.
func (c Clocks) Reason() Reason {
	var r Reason
	if c.Thermal < 1 {
		r |= Thermal
	}
	if c.Power < 1 {
		r |= PowerCap
	}
	return r
}

// Full is the unthrottled state.
var Full = Clocks{Thermal: 1, Power: 1}

// Next is the governor's decision after a control interval in which the
// device, at clock c.Clock(), showed activity a and ended at temperature t
// in the thermal circuit rc.
func (g Governor) Next(c Clocks, m Model, rc RC, a Activity, t float64) Clocks {
	if g.Disabled {
		return Full
	}
	f0 := c.Clock()
	c.Power = 1
	if m.CapW > 0 {
		c.Power = g.clockFor(m, a, f0, m.CapW)
	}
	hot := t >= g.SlowdownC || c.Thermal < 1 && t > g.SlowdownC-g.HysteresisC
	c.Thermal = 1
	if hot && rc.ResistanceCPerW > 0 {
		hold := (g.SlowdownC - rc.AmbientC) / rc.ResistanceCPerW
		c.Thermal = g.clockFor(m, a, f0, hold)
	}
	return c
}

// clockFor is the highest clock in [MinClock, 1] whose draw stays within
// limit, assuming compute-bound work slows with the clock (its FLOP rate
// scales by the clock ratio from f0) and busy time stays as it was.
func (g Governor) clockFor(m Model, a Activity, f0, limit float64) float64 {
	at := func(f float64) float64 {
		b := a
		b.MFU = a.MFU * f / f0
		return m.Uncapped(b, f)
	}
	if at(1) <= limit {
		return 1
	}
	lo, hi := g.MinClock, 1.0
	for range 40 {
		mid := (lo + hi) / 2
		if at(mid) > limit {
			hi = mid
		} else {
			lo = mid
		}
	}
	return lo
}

// MemoryClockShare is how much of a clock cut memory-bound work feels:
// bandwidth comes from the memory clock, which SM throttling leaves
// alone, but fewer SM cycles issue and hide fewer loads, and on a SoC
// like GB10 the fabric slows too. Half is an assumption until a
// calibration run on a throttling box measures it: with it a GB10 held at
// its slowdown temperature decodes 12-17% slower in a 35 C closet, where
// owners report 20-30% token-rate losses.
const MemoryClockShare = 0.5

// Speeds returns the speed of compute-bound and of memory-bound work at a
// clock, as shares of full speed.
func Speeds(clock float64) (compute, memory float64) {
	return clock, 1 - MemoryClockShare*(1-clock)
}

func (r Reason) String() string {
	switch r {
	case None:
		return ""
	case Thermal:
		return "thermal"
	case PowerCap:
		return "power cap"
	default:
		return "thermal+power cap"
	}
}

// seriesMax is the largest x decayOver sums as a series: there its
// truncation error, below x⁷/5040, is under 2⁻⁶⁰ of the result.
const seriesMax = 0x1p-8

// decayOver is 1 − e^{−x} for x ≥ 0. The simulator integrates a device's
// temperature over every span between two events, milliseconds against
// time constants of minutes, so x is almost always tiny; there six terms
// of the Taylor series give math.Expm1's value to within two ulps at a
// fraction of its cost (TestDecayOver bounds the difference).
func decayOver(x float64) float64 {
	if x >= seriesMax || x < 0 {
		return -math.Expm1(-x)
	}
	const c2, c3, c4, c5, c6, c7 = -1.0 / 2, 1.0 / 6, -1.0 / 24, 1.0 / 120, -1.0 / 720, 1.0 / 5040
	return x * (1 + x*(c2+x*(c3+x*(c4+x*(c5+x*(c6+x*c7))))))
}
