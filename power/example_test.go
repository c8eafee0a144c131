package power_test

import (
	"fmt"

	"github.com/fleettwin/fleettwin/power"
)

// A DGX Spark at a steady 90 W in a 25 C room: where it settles, and how
// far it gets in one time constant.
func ExampleRC() {
	rc := power.RC{ResistanceCPerW: 0.45, CapacityJPerC: 240 / 0.45, AmbientC: 25}
	start := rc.Steady(30) // idle
	end, _ := rc.Advance(start, 90, rc.Tau())
	fmt.Printf("idle %.1f C, steady %.1f C, after τ = %.0f s: %.1f C\n", start, rc.Steady(90), rc.Tau(), end)
	// Output: idle 38.5 C, steady 65.5 C, after τ = 240 s: 55.6 C
}

// The governor holds a hot box at its slowdown temperature by lowering
// the clock to the power that keeps it there.
func ExampleGovernor_Next() {
	m := power.Model{IdleW: 30, BusyW: 35, ComputeW: 60, MemoryW: 30, CapW: 140}
	rc := power.RC{ResistanceCPerW: 0.7, CapacityJPerC: 340, AmbientC: 35}
	g := power.Governor{SlowdownC: 82, HysteresisC: 3, MinClock: 0.4}
	decode := power.Activity{Busy: 1, MFU: 0.03, MBU: 0.75}
	c := g.Next(power.Full, m, rc, decode, 82.5)
	compute, memory := power.Speeds(c.Clock())
	fmt.Printf("clock %.2f (%s): %.0f W, compute at %.0f%%, memory at %.0f%%\n", c.Clock(), c.Reason(), m.Draw(decode, c.Clock()), 100*compute, 100*memory)
	// Output: clock 0.64 (thermal): 67 W, compute at 64%, memory at 82%
}
