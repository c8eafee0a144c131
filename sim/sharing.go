package sim

import (
	"math"

	"github.com/fleettwin/fleettwin/scenario"
)

// How co-located instances share a device's compute: the node's sharing
// (scenario.Sharing) turns what each busy segment asks of the device into
// the factor by which it runs slower than alone. device.reshare brings the
// segments up to date and reschedules their ends whenever one starts,
// stops or is cut short; the rules below only say how fast each goes in
// between.
//
// Every rule gives a lone segment exactly 1 (under MPS, within its SM cap),
// so a node with one instance runs as the single-instance model says,
// whatever its sharing. With two or more busy, each rule adds the node's
// interference × (busy − 1) (but MIG, whose partitions are hard) for what
// the rule itself leaves out: caches, TLBs, the memory controller's
// queues.
//
// Priority (lower more urgent, as request classes) orders the busy
// segments into levels; the more urgent take the device first and the less
// urgent share what is left. A segment left nothing is starved: its
// slowdown is +Inf, it makes no progress and has no end scheduled until a
// more urgent segment stops and the device is reshared.

// demand is what one busy segment asks of the device, each as a share of
// its alone time (at the current clock).
type demand struct {
	c, m  float64 // tensor cores, memory system busy
	g     float64 // GPU busy (kernels running): 1 − the CPU-side overhead's share
	step  float64 // alone seconds per step
	share float64 // the SMs it may use under MPS (mps_active_thread_pct / 100), 1 uncapped
	prio  int
}

// sharer holds a device's sharing rule and its coefficients.
type sharer struct {
	mode scenario.Sharing
	// sigma is the share of GPU time a context pays for switches while
	// others want the GPU: switch_s / time_slice_s.
	sigma float64
	// kappa and kappaC are MPS's memory and compute contention: the joint
	// memory term is max m + κ (Σ m − max m), the compute term likewise.
	kappa, kappaC float64
	units         float64 // compute units (cores of a CPU host; 1 on a GPU)
	interference  float64
}

// starvedBelow is the capacity under which what is left of the device for
// less urgent segments counts as nothing (a sum of shares that should be
// exactly 1 is 1 − 1e-16 in floating point).
const starvedBelow = 1e-9

// newSharer returns the rule of node n: its sharing (or the hardware's
// default, for nodes built without one) with its profile's coefficients.
func newSharer(n scenario.Node) sharer {
	mode := n.Sharing
	if mode == "" {
		mode = scenario.DefaultSharing(n.Hardware)
	}
	co := n.Profile.Sharing.OrDefault()
	return sharer{mode: mode, sigma: co.SwitchShare(), kappa: co.MPSMemoryContention, kappaC: co.MPSComputeContention,
		units: float64(n.Hardware.Units()), interference: n.Interference}
}

// slowdowns sets out[i] to the factor by which busy segment ds[i] runs
// slower than alone (+Inf: starved).
func (sh *sharer) slowdowns(ds []demand, out []float64) {
	switch len(ds) {
	case 0:
		return
	case 1:
		out[0] = 1
		if d := ds[0]; sh.mode == scenario.MPS && d.share < 1 {
			out[0] = max(1, d.c/d.share)
		}
		return
	}
	switch sh.mode {
	case scenario.MIG:
		for i := range out {
			out[i] = 1
		}
		return
	case scenario.TimeSlice:
		sh.timeSlice(ds, out)
	case scenario.OneProcess:
		sh.oneProcess(ds, out)
	default:
		sh.mps(ds, out)
	}
	running := 0
	for _, s := range out {
		if !math.IsInf(s, 1) {
			running++
		}
	}
	if running > 1 {
		add := sh.interference * float64(running-1)
		for i := range out {
			out[i] += add
		}
	}
}

// uniform reports whether every segment of ds has the same priority: one
// level, the common case, which needs no search for the levels.
func uniform(ds []demand) bool {
	for _, d := range ds[1:] {
		if d.prio != ds[0].prio {
			return false
		}
	}
	return true
}

// levels calls f with each priority of ds once, most urgent first.
func levels(ds []demand, f func(prio int)) {
	last, first := 0, true
	for {
		next, found := 0, false
		for _, d := range ds {
			if (first || d.prio > last) && (!found || d.prio < next) {
				next, found = d.prio, true
			}
		}
		if !found {
			return
		}
		f(next)
		last, first = next, false
	}
}

// timeSlice is the CUDA default, processes without MPS: kernels of
// different contexts never run at once; the GPU round-robins the busy
// contexts in time slices, losing switch_s at each switch. As a fluid: a
// segment's GPU time g (its alone time less its CPU-side overhead, when
// another context's kernels can run) costs g (1 + σ), σ = switch_s /
// time_slice_s, so a level of equal priority whose segments demand
// D = (1 + σ) Σ g of a GPU with R left runs at
//
//	s_i = max(1 + σ g_i, D / R)
//
// each: slowed by the switches alone while D fits in R, all by the same
// factor once the GPU is saturated. The most urgent level has R = 1 (the
// twin's time-slice scheduler runs the high-priority model first; the
// driver has no cross-process priority); each level leaves the next R less
// the GPU time it uses, Σ (1 + σ) g_i / s_i, which can be nothing.
func (sh *sharer) timeSlice(ds []demand, out []float64) {
	if uniform(ds) {
		sh.timeSliceLevel(ds, out, ds[0].prio, 1)
		return
	}
	left := 1.0
	levels(ds, func(prio int) { left = sh.timeSliceLevel(ds, out, prio, left) })
}

// timeSliceLevel sets the slowdowns of the segments of priority prio on a
// GPU with left of its time left, and returns what they leave.
func (sh *sharer) timeSliceLevel(ds []demand, out []float64, prio int, left float64) float64 {
	var sumG float64
	for _, d := range ds {
		if d.prio == prio {
			sumG += d.g
		}
	}
	need := (1 + sh.sigma) * sumG
	var used float64
	for i, d := range ds {
		switch {
		case d.prio != prio:
			continue
		case d.g <= 0:
			out[i] = 1 // needs no GPU time
		case left <= starvedBelow:
			out[i] = math.Inf(1)
		default:
			out[i] = max(1+sh.sigma*d.g, need/left)
			used += (1 + sh.sigma) * d.g / out[i]
		}
	}
	return left - used
}

// mps is NVIDIA's Multi-Process Service (and a CPU host whose servers
// compute on their own cores at once): kernels of every process run
// concurrently, sharing the SMs and the memory bandwidth. A level of equal
// priority, with compute R_c (in units) and bandwidth R_m left, runs at
//
//	s = max(1, compute, memory)
//	compute = max((max c + κ_c (Σ c − max c)) / R_c, max c / min(1, R_c))
//	memory = (max m + κ (Σ m − max m)) / R_m
//
// and each segment at no less than c_i / share_i, its SM cap
// (CUDA_MPS_ACTIVE_THREAD_PERCENTAGE), also alone. κ = κ_c = 1, one level
// and no caps is the rule every co-located instance had before sharing
// modes. The most urgent level has the whole device; a less urgent one
// gets the compute left, R_c − κ_c Σ c_i / s_i, and the bandwidth left,
// R_m − κ Σ m_i / s_i (only κ of a more urgent stream counts against it,
// as in the joint term).
func (sh *sharer) mps(ds []demand, out []float64) {
	if uniform(ds) {
		sh.mpsLevel(ds, out, ds[0].prio, sh.units, 1, false)
		return
	}
	leftC, leftM := sh.units, 1.0
	levels(ds, func(prio int) { leftC, leftM = sh.mpsLevel(ds, out, prio, leftC, leftM, true) })
}

// mpsLevel sets the slowdowns of the segments of priority prio with leftC
// units of compute and leftM of the bandwidth left, and returns what they
// leave (when asked to: the last level need not).
func (sh *sharer) mpsLevel(ds []demand, out []float64, prio int, leftC, leftM float64, leave bool) (float64, float64) {
	var sumC, maxC, sumM, maxM float64
	for _, d := range ds {
		if d.prio == prio {
			sumC += d.c
			maxC = max(maxC, d.c)
			sumM += d.m
			maxM = max(maxM, d.m)
		}
	}
	// Written so that κ = 1 gives Σ exactly.
	compute := sumC - (1-sh.kappaC)*(sumC-maxC)
	memory := sumM - (1-sh.kappa)*(sumM-maxM)
	starved := sumC > 0 && leftC <= starvedBelow || memory > 0 && leftM <= starvedBelow
	s := math.Inf(1)
	if !starved {
		s = 1
		if sumC > 0 {
			s = max(s, compute/leftC, maxC/min(1, leftC))
		}
		if memory > 0 {
			s = max(s, memory/leftM)
		}
	}
	var usedC, usedM float64
	for i, d := range ds {
		if d.prio != prio {
			continue
		}
		out[i] = s
		if starved {
			continue
		}
		if d.share < 1 {
			out[i] = max(s, d.c/d.share)
		}
		if leave {
			usedC += d.c / out[i]
			usedM += d.m / out[i]
		}
	}
	return leftC - sh.kappaC*usedC, leftM - sh.kappa*usedM
}

// oneProcess is one server hosting every model of the node (Ollama,
// llama.cpp): its steps alternate, and a step of one model never overlaps
// another's, CPU overhead included. Busy segments of the most urgent
// priority take a step each in turn, so each step of segment i waits for
// one step of every other:
//
//	s_i = 1 + Σ_{j ≠ i} step_j / step_i
//
// with step the alone time per step. Less urgent segments wait until no
// more urgent one is busy (starved meanwhile).
func (sh *sharer) oneProcess(ds []demand, out []float64) {
	top := ds[0].prio
	for _, d := range ds {
		top = min(top, d.prio)
	}
	for i, d := range ds {
		switch {
		case d.prio != top:
			out[i] = math.Inf(1)
		case d.step <= 0:
			out[i] = 1 // takes no time
		default:
			s := 1.0
			for j, o := range ds {
				if j != i && o.prio == top {
					s += o.step / d.step
				}
			}
			out[i] = s
		}
	}
}
