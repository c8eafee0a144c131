package engine

import "math/rand/v2"

// Streams derives independent random streams from one experiment seed.
//
// Each stream is seeded from a hash of (seed, name) alone, so the numbers a
// stream produces depend only on the seed and its own name: adding,
// removing or reordering other streams, or drawing more from them, never
// shifts its numbers. That keeps a change in one model component from
// perturbing the randomness of every other component, which would otherwise
// make comparisons between runs noisy.
type Streams struct {
	seed uint64
}

// NewStreams returns the stream family for seed.
func NewStreams(seed uint64) Streams { return Streams{seed: seed} }

// Stream returns a new generator for the named stream, positioned at its
// start: two calls with the same name return generators that produce the
// same numbers. Create a component's stream once and keep it.
//
// The generator is PCG, which is fast, small and statistically sound for
// simulation (it is not cryptographic). Its two seed words come from
// splitmix64, mixing the seed with the FNV-1a hash of the name.
func (s Streams) Stream(name string) *rand.Rand {
	h := uint64(14695981039346656037) // FNV-1a 64 offset basis
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	k1 := splitmix64(s.seed ^ splitmix64(h))
	k2 := splitmix64(k1 ^ 0x6a09e667f3bcc909)
	return rand.New(rand.NewPCG(k1, k2))
}

// splitmix64 is the finaliser of the SplitMix64 generator, a fast bijective
// mixer whose output bits each depend on every input bit.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
