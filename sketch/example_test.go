package sketch_test

import (
	"fmt"

	"github.com/fleettwin/fleettwin/sketch"
)

func Example() {
	s := sketch.New(0.01) // every quantile within 1%
	for i := 1; i <= 1000; i++ {
		s.Add(float64(i) / 1000) // 1 ms .. 1 s
	}
	fmt.Printf("p50 %.3f s, p99 %.3f s, max %.3f s\n", s.Quantile(0.5), s.Quantile(0.99), s.Max())
	// Output:
	// p50 0.502 s, p99 0.990 s, max 1.000 s
}
