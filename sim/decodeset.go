package sim

import (
	"math"

	"github.com/fleettwin/fleettwin/perf"
)

// decodeSet holds sums over an instance's running requests that are
// decoding, so planning a step costs a few operations instead of walks
// over the batch (issue 18): the step model needs only the batch's context
// sums, KV block growth only how many contexts sit at each remainder
// modulo the block size, and a decode run's length only the least output
// still to generate.
//
// endSegment rebuilds the set in the one walk it makes over the running
// requests; between segment ends the set changes only by a shipped KV
// joining (startWork) or a preemption (preempt), which update it.
// Contexts are integers, so the float sums the step model sees are exact
// as long as they stay below 2^53 (exactInt): the same bits as adding the
// requests one by one in any order. Past that (a million-token context in
// every slot) the callers walk the requests as before.
type decodeSet struct {
	n      int   // decoding requests running
	s1, s2 int64 // Σ context, Σ context²
	// rem[ρ] counts contexts ≡ ρ mod the block size; nil where the block
	// size exceeds histBlocks, and the callers walk the requests instead.
	rem []int32
	// minLeft is the least output - generated over the set when minOK.
	minLeft int32
	minOK   bool
}

// histBlocks is the largest block size decodeSet keeps remainder counts
// for (the usual sizes are 16 to 128; scenario.MaxBlockTokens is 4096).
const histBlocks = 256

// exactInt is 2^53: float64 holds every integer below it.
const exactInt = 1 << 53

// reset empties the set for a rebuild.
func (ds *decodeSet) reset(bt int32) {
	ds.n, ds.s1, ds.s2 = 0, 0, 0
	ds.minLeft, ds.minOK = math.MaxInt32, true
	if bt <= histBlocks {
		if len(ds.rem) != int(bt) {
			ds.rem = make([]int32, bt)
		} else {
			clear(ds.rem)
		}
	}
}

// residue is tokens mod bt, by a mask for the usual powers of two.
func residue(tokens, bt int32) int32 {
	if bt&(bt-1) == 0 {
		return tokens & (bt - 1)
	}
	return tokens % bt
}

// add puts a decoding request in the set.
func (ds *decodeSet) add(r *request, bt int32) {
	c := int64(r.context)
	ds.n++
	ds.s1 += c
	ds.s2 += c * c
	if ds.rem != nil {
		ds.rem[residue(r.context, bt)]++
	}
	ds.minLeft = min(ds.minLeft, r.output-r.generated)
}

// remove takes a decoding request out of the set.
func (ds *decodeSet) remove(r *request, bt int32) {
	c := int64(r.context)
	ds.n--
	ds.s1 -= c
	ds.s2 -= c * c
	if ds.rem != nil {
		ds.rem[residue(r.context, bt)]--
	}
	if r.output-r.generated <= ds.minLeft {
		ds.minOK = false
	}
}

// growth is Σ blocksFor(context + j) - blocksFor(context + 1) over the set,
// the blocks its requests take from their next step through their j-th,
// for j >= 1 and a set with remainder counts. With j - 1 = a·bt + b, a
// context of remainder ρ crosses a + [ρ >= bt - b] more block boundaries.
func (ds *decodeSet) growth(j, bt int32) int64 {
	a, b := (j-1)/bt, (j-1)%bt
	n := int64(a) * int64(ds.n)
	for _, c := range ds.rem[bt-b:] {
		n += int64(c)
	}
	return n
}

// decodeSums is Σ (context + shift) and Σ (context + shift)² over the set,
// and whether they are exact as float64 sums (every partial sum of the
// second below 2^53).
func (ds *decodeSet) decodeSums(shift int64) (s1, s2 int64, ok bool) {
	n := int64(ds.n)
	s1 = ds.s1 + shift*n
	s2 = ds.s2 + 2*shift*ds.s1 + shift*shift*n
	return s1, s2, ds.s2 >= 0 && s2 < exactInt && s2 >= 0
}

// addDecodes adds one decode token for every decoding request of the
// instance, at context + shift, to b: one AddDecodes from the set's sums,
// or the walk over the requests where a sum would not be exact.
func (s *simulator) addDecodes(in *instance, b *perf.Batch, shift int32) {
	ds := &in.dec
	if s1, s2, ok := ds.decodeSums(int64(shift) + 1); ok {
		b.AddDecodes(ds.n, s1, s2)
		return
	}
	for _, id := range in.running {
		if r := &s.reqs[id]; r.decoding() {
			b.AddDecode(int(r.context + shift))
		}
	}
}

// decodeNeed is the blocks the decoding requests' next tokens take:
// those whose context fills its last block exactly.
func (s *simulator) decodeNeed(in *instance) int64 {
	if in.dec.rem != nil {
		return int64(in.dec.rem[0])
	}
	bt := int32(in.cfg.BlockTokens)
	var need int64
	for _, id := range in.running {
		if r := &s.reqs[id]; r.decoding() {
			need += blocksFor(r.context+1, bt) - blocksFor(r.context, bt)
		}
	}
	return need
}

// decodeGrowth is decodeSet.growth, or the walk where the set keeps no
// remainder counts.
func (s *simulator) decodeGrowth(in *instance, j int32) int64 {
	bt := int32(in.cfg.BlockTokens)
	if in.dec.rem != nil {
		return in.dec.growth(j, bt)
	}
	var n int64
	for _, id := range in.running {
		if r := &s.reqs[id]; r.decoding() {
			n += blocksFor(r.context+j, bt) - blocksFor(r.context+1, bt)
		}
	}
	return n
}

// decodeLeft is the least output still to generate over the decoding
// requests, MaxInt32 for none.
func (s *simulator) decodeLeft(in *instance) int32 {
	ds := &in.dec
	if !ds.minOK {
		ds.minLeft, ds.minOK = math.MaxInt32, true
		for _, id := range in.running {
			if r := &s.reqs[id]; r.decoding() {
				ds.minLeft = min(ds.minLeft, r.output-r.generated)
			}
		}
	}
	return ds.minLeft
}
