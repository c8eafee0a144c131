package engine

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestSecondsNearest: Seconds is the double nearest t/1e9 where it
// divides once (|t| ≤ 2⁵³), and within two ulps of it beyond, where it
// splits t.
func TestSecondsNearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ts := []Time{0, 1, -1, Second, 1 << 53, -1 << 53, 1<<53 + 1, Never - 1, -Never + 1}
	for range 20000 {
		ts = append(ts, Time(rng.Int64N(1<<53)), Time(rng.Int64N(math.MaxInt64-1<<53)+1<<53))
	}
	for _, x := range ts {
		exact, _ := new(big.Rat).SetFrac(big.NewInt(int64(x)), big.NewInt(1e9)).Float64()
		got := x.Seconds()
		if -1<<53 <= x && x <= 1<<53 && got != exact {
			t.Fatalf("Time(%d).Seconds() = %v, want %v", int64(x), got, exact)
		}
		if d := math.Abs(got - exact); d > 2*(math.Nextafter(exact, math.Inf(1))-exact) {
			t.Fatalf("Time(%d).Seconds() = %v, more than two ulps from %v", int64(x), got, exact)
		}
	}
}
