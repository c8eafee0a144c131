package sim

import (
	"github.com/fleettwin/fleettwin/perf"
)

// decodeSet holds sums over an instance's running requests that are
// decoding, so planning a step costs a few operations instead of walks
// over the batch (issue 18): the step model needs only the batch's context
// sums, KV block growth only how many contexts sit at each remainder
// modulo the block size, and a decode run's length only the least output
// still to generate.
//
// Its requests advance on the set's decode clock (decodeclock.go): a
// segment end moves the clock and the sums in closed form, and a request's
// tokens are brought up to date only when something reads them. The set
// changes by a request joining (a prompt's last chunk landing, a shipped
// KV admitted) or leaving (finishing, preempted).
// Contexts are integers, so the float sums the step model sees are exact
// as long as they stay below 2^53 (exactInt): the same bits as adding the
// requests one by one in any order. Past that (a million-token context in
// every slot) the callers walk the requests as before.
type decodeSet struct {
	n      int   // decoding requests running
	s1, s2 int64 // Σ context, Σ context²
	bt     int32 // block size in tokens
	// rem[(ρ - off) mod bt] counts contexts ≡ ρ mod bt: a clock tick
	// moves every context up one remainder, which turning off does.
	// nil where the block size exceeds histBlocks, and the callers walk
	// the requests instead.
	rem []int32
	off int32 // clock mod bt
	decodeClock
}

// histBlocks is the largest block size decodeSet keeps remainder counts
// for (the usual sizes are 16 to 128; scenario.MaxBlockTokens is 4096).
const histBlocks = 256

// exactInt is 2^53: float64 holds every integer below it.
const exactInt = 1 << 53

// reset empties the set for block size bt.
func (ds *decodeSet) reset(bt int32) {
	ds.n, ds.s1, ds.s2, ds.bt, ds.off = 0, 0, 0, bt, 0
	ds.rem = nil
	if bt <= histBlocks {
		ds.rem = make([]int32, bt)
	}
	ds.decodeClock = decodeClock{fin: ds.fin[:0]}
}

// residue is tokens mod bt, by a mask for the usual powers of two.
func residue(tokens, bt int32) int32 {
	if bt&(bt-1) == 0 {
		return tokens & (bt - 1)
	}
	return tokens % bt
}

// slot is where rem counts a context.
func (ds *decodeSet) slot(context int32) int32 {
	i := residue(context, ds.bt) - ds.off
	if i < 0 {
		i += ds.bt
	}
	return i
}

// remAt is how many contexts of the set are ≡ ρ mod the block size.
func (ds *decodeSet) remAt(ρ int32) int32 { return ds.rem[ds.slot(ρ)] }

// count adds (sign 1) or takes out (sign -1) a context up to date with
// the clock.
func (ds *decodeSet) count(context int32, sign int) {
	c := int64(context)
	ds.n += sign
	ds.s1 += int64(sign) * c
	ds.s2 += int64(sign) * c * c
	if ds.rem != nil {
		ds.rem[ds.slot(context)] += int32(sign)
	}
}

// tick moves every context of the set on by steps tokens: Σc grows by
// n·steps and Σc² by 2·steps·Σc + n·steps², the same integers as adding
// the moved contexts up again (wrapping alike, were they to overflow).
func (ds *decodeSet) tick(steps int32) {
	k, n := int64(steps), int64(ds.n)
	ds.s2 += 2*k*ds.s1 + n*k*k
	ds.s1 += n * k
	if ds.rem != nil {
		if ds.off += residue(steps, ds.bt); ds.off >= ds.bt {
			ds.off -= ds.bt
		}
	}
}

// growth is Σ blocksFor(context + j) - blocksFor(context + 1) over the set,
// the blocks its requests take from their next step through their j-th,
// for j >= 1 and a set with remainder counts. With j - 1 = a·bt + b, a
// context of remainder ρ crosses a + [ρ >= bt - b] more block boundaries.
func (ds *decodeSet) growth(j int32) int64 {
	bt := ds.bt
	a, b := (j-1)/bt, (j-1)%bt
	n := int64(a) * int64(ds.n)
	if b == 0 {
		return n
	}
	// Remainders bt-b .. bt-1 sit in rem from slot(bt-b) on, round the end.
	lo := ds.slot(bt - b)
	hi := lo + b
	wrap := hi - bt
	if wrap > 0 {
		hi = bt
	}
	for _, c := range ds.rem[lo:hi] {
		n += int64(c)
	}
	if wrap > 0 {
		for _, c := range ds.rem[:wrap] {
			n += int64(c)
		}
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
			ds.sync(r)
			b.AddDecode(int(r.context + shift))
		}
	}
}

// decodeNeed is the blocks the decoding requests' next tokens take:
// those whose context fills its last block exactly.
func (s *simulator) decodeNeed(in *instance) int64 {
	if in.dec.rem != nil {
		return int64(in.dec.remAt(0))
	}
	bt := int32(in.cfg.BlockTokens)
	var need int64
	for _, id := range in.running {
		if r := &s.reqs[id]; r.decoding() {
			in.dec.sync(r)
			need += blocksFor(r.context+1, bt) - blocksFor(r.context, bt)
		}
	}
	return need
}

// decodeGrowth is decodeSet.growth, or the walk where the set keeps no
// remainder counts.
func (s *simulator) decodeGrowth(in *instance, j int32) int64 {
	if in.dec.rem != nil {
		return in.dec.growth(j)
	}
	bt := int32(in.cfg.BlockTokens)
	var n int64
	for _, id := range in.running {
		if r := &s.reqs[id]; r.decoding() {
			in.dec.sync(r)
			n += blocksFor(r.context+j, bt) - blocksFor(r.context+1, bt)
		}
	}
	return n
}

// decodeLeft is the least output still to generate over the decoding
// requests, MaxInt32 for none.
func (s *simulator) decodeLeft(in *instance) int32 { return in.dec.minLeft() }
