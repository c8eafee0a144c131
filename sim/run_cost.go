package sim

import (
	"math"

	"github.com/fleettwin/fleettwin/perf"
)

// decodeRun is the cost of k consecutive decode steps of an unchanged batch.
// Every term of the step model is linear in the batch's context sums, and
// those grow by the same amount each step, so step j costs
//
//	max(c0 + j·dc, m0 + j·dm) + s·min(c0 + j·dc, m0 + j·dm) + o
//
// and a run of any length is summed in closed form. This is what lets the
// simulator advance many steps in one event: events scale with arrivals and
// completions, not with tokens.
type decodeRun struct {
	c0, dc float64 // compute seconds of step 0 and growth per step
	m0, dm float64 // memory seconds
	o      float64 // overhead seconds, constant
	s      float64 // serial fraction of the smaller of compute and memory
	f0, df float64 // FLOPs
	b0, db float64 // bytes
	// A speculative round's draft steps (perf.StepCost's DraftCompute and
	// DraftMemory): compute and memory seconds of their own, which add
	// max(dc0 + j·ddc, dm0 + j·ddm) + s·min(...) to step j. All 0 without
	// speculative decoding (sim/speculative.go).
	dc0, ddc float64
	dm0, ddm float64
}

// newDecodeRun derives the run from the costs of its first two steps.
func newDecodeRun(first, second perf.StepCost) decodeRun {
	return decodeRun{
		c0: first.Compute, dc: second.Compute - first.Compute,
		m0: first.Memory, dm: second.Memory - first.Memory,
		o: first.Overhead, s: first.Serial,
		f0: first.FLOPs, df: second.FLOPs - first.FLOPs,
		b0: first.Bytes, db: second.Bytes - first.Bytes,
		dc0: first.DraftCompute, ddc: second.DraftCompute - first.DraftCompute,
		dm0: first.DraftMemory, ddm: second.DraftMemory - first.DraftMemory,
	}
}

// scaled is the run with its compute seconds multiplied by kc and its
// memory seconds by km: the same steps at a lower clock.
func (r decodeRun) scaled(kc, km float64) decodeRun {
	r.c0, r.dc = r.c0*kc, r.dc*kc
	r.m0, r.dm = r.m0*km, r.dm*km
	r.dc0, r.ddc = r.dc0*kc, r.ddc*kc
	r.dm0, r.ddm = r.dm0*km, r.ddm*km
	return r
}

// arith is Σ_{j=lo}^{hi-1} (a + j·d).
func arith(a, d float64, lo, hi int) float64 {
	if hi <= lo {
		return 0
	}
	n := float64(hi - lo)
	return n*a + d*(float64(lo)+float64(hi-1))*n/2
}

// parts returns Σ compute seconds over the compute-bound steps and Σ memory
// seconds over the memory-bound steps among the first n steps. compute -
// memory is linear in j, so the regime changes at most once.
func (r *decodeRun) parts(n int) (compute, memory float64) {
	return maxParts(r.c0, r.dc, r.m0, r.dm, n)
}

// maxParts is parts for compute c0 + j·dc and memory m0 + j·dm at step j.
func maxParts(c0, dc, m0, dm float64, n int) (compute, memory float64) {
	diff0, ddiff := c0-m0, dc-dm // compute - memory at step j
	computeFirst := diff0 > 0
	cut := n // steps [0, cut) are in the regime of step 0
	if ddiff != 0 && (diff0 > 0) != (ddiff > 0) {
		if x := -diff0 / ddiff; x < float64(n) {
			cut = max(0, int(math.Ceil(x)))
		}
	}
	if computeFirst {
		return arith(c0, dc, 0, cut), arith(m0, dm, cut, n)
	}
	return arith(c0, dc, cut, n), arith(m0, dm, 0, cut)
}

// seconds is the alone time of the first n steps. The methods that
// price a run take it by pointer: stepsWithin calls seconds a dozen times
// per truncation, and a copy is 16 words.
func (r *decodeRun) seconds(n int) float64 {
	c, m := r.parts(n)
	secs := c + m + float64(n)*r.o
	if r.s != 0 {
		all, allm := arith(r.c0, r.dc, 0, n), arith(r.m0, r.dm, 0, n)
		secs += r.s * (all + allm - c - m) // Σ min = Σ (compute + memory) − Σ max
	}
	if r.drafts() {
		dc, dm := maxParts(r.dc0, r.ddc, r.dm0, r.ddm, n)
		secs += dc + dm
		if r.s != 0 {
			secs += r.s * (arith(r.dc0, r.ddc, 0, n) + arith(r.dm0, r.ddm, 0, n) - dc - dm)
		}
	}
	return secs
}

// drafts reports whether the run has a speculative draft part.
func (r *decodeRun) drafts() bool { return r.dc0 != 0 || r.ddc != 0 || r.dm0 != 0 || r.ddm != 0 }

// busy returns the compute and memory seconds the first n steps demand of
// the device (both resources, whichever bound the time), for sharing.
func (r *decodeRun) busy(n int) (compute, memory float64) {
	compute, memory = arith(r.c0, r.dc, 0, n), arith(r.m0, r.dm, 0, n)
	if r.drafts() {
		compute += arith(r.dc0, r.ddc, 0, n)
		memory += arith(r.dm0, r.ddm, 0, n)
	}
	return compute, memory
}

// costs is seconds, busy and work of the first n steps in one pass: what
// a segment's plan needs, without the sums seconds and busy share (or the
// draft test) computed twice. Each result is its method's, operation for
// operation.
func (r *decodeRun) costs(n int) (secs, compute, memory, flops, bytes float64) {
	all, allm := arith(r.c0, r.dc, 0, n), arith(r.m0, r.dm, 0, n)
	c, m := r.parts(n)
	secs = c + m + float64(n)*r.o
	if r.s != 0 {
		secs += r.s * (all + allm - c - m)
	}
	compute, memory = all, allm
	if r.drafts() {
		dc, dm := maxParts(r.dc0, r.ddc, r.dm0, r.ddm, n)
		secs += dc + dm
		dAll, dAllm := arith(r.dc0, r.ddc, 0, n), arith(r.dm0, r.ddm, 0, n)
		if r.s != 0 {
			secs += r.s * (dAll + dAllm - dc - dm)
		}
		compute += dAll
		memory += dAllm
	}
	flops, bytes = r.work(n)
	return secs, compute, memory, flops, bytes
}

// work is the FLOPs and bytes of the first n steps.
func (r *decodeRun) work(n int) (flops, bytes float64) {
	return arith(r.f0, r.df, 0, n), arith(r.b0, r.db, 0, n)
}

// stepsWithin returns the smallest n in [1, k] with seconds(n) >= alone,
// i.e. the step during which an alone-time progress falls: the run can stop
// at the end of that step. The bisection prices n with runSeconds, which
// takes the run's constant parts apart once.
func (r *decodeRun) stepsWithin(alone float64, k int) int {
	t := newRunSeconds(r)
	lo, hi := 1, k
	for lo < hi {
		mid := (lo + hi) / 2
		if t.seconds(mid) >= alone {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// runSeconds is decodeRun.seconds with what does not depend on n worked
// out once: maxParts' regime change (a division) and whether there are
// serial and draft terms. Its seconds are decodeRun's, operation for
// operation.
type runSeconds struct {
	r            *decodeRun
	computeFirst bool
	switches     bool    // the regime changes before some step: at x
	x            float64 // -diff0 / ddiff, where it switches
	cutX         int     // the first step in the other regime
	drafts       bool
}

func newRunSeconds(r *decodeRun) runSeconds {
	t := runSeconds{r: r, drafts: r.drafts()}
	diff0, ddiff := r.c0-r.m0, r.dc-r.dm
	t.computeFirst = diff0 > 0
	if ddiff != 0 && (diff0 > 0) != (ddiff > 0) {
		t.switches, t.x = true, -diff0/ddiff
		t.cutX = max(0, int(math.Ceil(t.x)))
	}
	return t
}

// seconds is r.seconds(n).
func (t *runSeconds) seconds(n int) float64 {
	r := t.r
	cut := n
	if t.switches && t.x < float64(n) {
		cut = t.cutX
	}
	var c, m float64
	if t.computeFirst {
		c, m = arith(r.c0, r.dc, 0, cut), arith(r.m0, r.dm, cut, n)
	} else {
		c, m = arith(r.c0, r.dc, cut, n), arith(r.m0, r.dm, 0, cut)
	}
	secs := c + m + float64(n)*r.o
	if r.s != 0 {
		all, allm := arith(r.c0, r.dc, 0, n), arith(r.m0, r.dm, 0, n)
		secs += r.s * (all + allm - c - m)
	}
	if t.drafts {
		dc, dm := maxParts(r.dc0, r.ddc, r.dm0, r.ddm, n)
		secs += dc + dm
		if r.s != 0 {
			secs += r.s * (arith(r.dc0, r.ddc, 0, n) + arith(r.dm0, r.ddm, 0, n) - dc - dm)
		}
	}
	return secs
}
