package workload

import (
	"slices"
	"strings"
)

// Process is how requests arrive. Its valid values are listed once, in
// Processes, which both the check and its error message use, so a new
// process cannot be accepted without being offered (or the reverse).
type Process string

// The arrival processes.
const (
	Poisson Process = "poisson" // open loop, exponential gaps
	Gamma   Process = "gamma"   // open loop, gamma gaps of a chosen CV
	Closed  Process = "closed"  // a fixed number of users
	Trace   Process = "trace"   // replayed from a file
)

// Processes are the valid arrival processes, in the order errors list them.
var Processes = []Process{Poisson, Gamma, Closed, Trace}

// Valid reports whether p is one of Processes.
func (p Process) Valid() bool { return slices.Contains(Processes, p) }

// Open reports whether p draws its arrivals from a rate (rather than from
// users or a file): only those are bounded by rate × duration.
func (p Process) Open() bool { return p == Poisson || p == Gamma }

// Dist is a distribution of token counts. Its valid values are listed once,
// in Dists.
type Dist string

// The length distributions.
const (
	Fixed       Dist = "fixed"
	Uniform     Dist = "uniform"
	Lognormal   Dist = "lognormal"
	Exponential Dist = "exponential" // geometric on 1, 2, ...
	Empirical   Dist = "empirical"   // read from a file
)

// Dists are the valid length distributions, in the order errors list them.
var Dists = []Dist{Fixed, Uniform, Lognormal, Exponential, Empirical}

// Valid reports whether d is one of Dists.
func (d Dist) Valid() bool { return slices.Contains(Dists, d) }

// Join lists choices for an error message: "a, b, c". It is generic so that
// every named choice of the project (here and in scenario) prints its valid
// values the same way.
func Join[T ~string](choices []T) string {
	s := make([]string, len(choices))
	for i, c := range choices {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
