package sim

import (
	"math"
	"slices"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/power"
	"github.com/fleettwin/fleettwin/scenario"
)

// device is one accelerator (one node) and the instances sharing it. It
// divides compute and bandwidth among busy instances and integrates its
// activity into totals and time-series bins. On a node of several devices
// it is a group of size identical devices in lockstep (parallel.go): its
// figures are each device's, its energy all of theirs.
type device struct {
	idx        int
	node       scenario.Node
	bandwidth  float64 // node.Hardware.BandwidthBytesPerSecond(): a call copied the whole Hardware
	size       int     // devices it stands for; 1 for a lone device
	insts      []int
	kvCapacity float64 // bytes of KV the instances can hold in all
	kvUsed     float64
	kvPeak     float64
	busy       []int // instances with a segment in progress
	waiting    int   // requests waiting on this device's instances
	running    int   // requests running, updated on advance
	last       engine.Time

	// Piecewise-constant rates between events, summed over busy segments.
	flopsRate, normRate, bytesRate float64 // FLOP/s, (FLOP/peak)/s, byte/s

	// share is the node's sharing rule; demands and slow are reshare's
	// scratch, one per busy segment, kept to not allocate per event.
	share   sharer
	demands []demand
	slow    []float64

	tot  totals
	snap totals   // at the last snapshot
	ctl  totals   // at the last control tick
	warm totals   // at the end of warm-up
	bins []totals // nil under Options.NoSeries
	nbin int      // the bins advance splits its spans at, kept or not
	res  engine.Time
	// The bin advance last wrote to and its span [binLo, binHi): found
	// again only when a span leaves it, not divided out at every event.
	bin          int
	binLo, binHi engine.Time

	// Power and heat. The draw is piecewise constant between events, so
	// energy and temperature integrate exactly.
	gov       power.Governor
	clocks    power.Clocks
	temp      float64 // C, now
	tempPeak  float64
	powerPeak float64 // W, device
	clipped   bool    // the draw hit the cap since the last control tick
	watts     float64 // the draw now, set whenever the rates or the clock change
	// off: an autoscaled node switched off, drawing nothing (autoscale.go).
	off bool
}

// totals are integrals of device activity over time.
type totals struct {
	Seconds    float64 // time covered
	Busy       float64 // seconds with at least one step running (nvidia-smi utilization)
	FLOPs      float64
	PeakFLOPs  float64 // Σ FLOPs / peak FLOP/s of each instance's dtype: MFU numerator
	Bytes      float64
	KVBytesSec float64 // ∫ KV bytes in use dt
	RunningSec float64 // ∫ running requests dt
	WaitingSec float64 // ∫ waiting requests dt
	EnergyJ    float64 // ∫ device power dt
	HostJ      float64 // ∫ the rest of the node's power dt
	TempSec    float64 // ∫ temperature dt, C·s
	ClockSec   float64 // ∫ clock dt
	Throttled  float64 // seconds below full clock
	ThermalSec float64 // of which the temperature held the clock down
	CappedSec  float64 // of which the power cap held the clock down
	OffSec     float64 // switched off by its autoscaler
}

// addSpan adds one of advance's spans, skipping the off and throttle
// seconds where they are 0: every total a device integrates is a
// sum of non-negative terms from +0, never -0, so adding +0 changes no bit.
func (t *totals) addSpan(o *totals) {
	t.Seconds += o.Seconds
	t.Busy += o.Busy
	t.FLOPs += o.FLOPs
	t.PeakFLOPs += o.PeakFLOPs
	t.Bytes += o.Bytes
	t.KVBytesSec += o.KVBytesSec
	t.RunningSec += o.RunningSec
	t.WaitingSec += o.WaitingSec
	t.EnergyJ += o.EnergyJ
	t.HostJ += o.HostJ
	t.TempSec += o.TempSec
	t.ClockSec += o.ClockSec
	if o.Throttled != 0 {
		t.Throttled += o.Throttled
		t.ThermalSec += o.ThermalSec
		t.CappedSec += o.CappedSec
	}
	if o.OffSec != 0 {
		t.OffSec += o.OffSec
	}
}

func (t totals) sub(o totals) totals {
	return totals{t.Seconds - o.Seconds, t.Busy - o.Busy, t.FLOPs - o.FLOPs, t.PeakFLOPs - o.PeakFLOPs,
		t.Bytes - o.Bytes, t.KVBytesSec - o.KVBytesSec, t.RunningSec - o.RunningSec, t.WaitingSec - o.WaitingSec,
		t.EnergyJ - o.EnergyJ, t.HostJ - o.HostJ, t.TempSec - o.TempSec, t.ClockSec - o.ClockSec,
		t.Throttled - o.Throttled, t.ThermalSec - o.ThermalSec, t.CappedSec - o.CappedSec, t.OffSec - o.OffSec}
}

func newDevice(idx int, n scenario.Node, sc *scenario.Scenario, unthrottled, noSeries bool) *device {
	d := &device{idx: idx, node: n, bandwidth: n.Hardware.BandwidthBytesPerSecond(), size: 1, res: sc.SeriesResolution, gov: n.Governor, clocks: power.Full, share: newSharer(n)}
	d.gov.Disabled = d.gov.Disabled || unthrottled
	// The box has been on, idle, long enough to settle.
	d.setWatts()
	d.temp = n.Thermal.Steady(d.watts)
	d.tempPeak = d.temp
	d.nbin = int((sc.Duration + d.res - 1) / d.res)
	if !noSeries {
		d.bins = make([]totals, d.nbin)
	}
	if n.DynamicMemory {
		d.kvCapacity = n.BudgetBytes
		for _, in := range n.Instances {
			d.kvCapacity -= in.WeightBytes
		}
	}
	return d
}

// addInstance accounts a static instance's KV capacity.
func (d *device) addInstance(in *instance) {
	if !d.node.DynamicMemory {
		d.kvCapacity += float64(in.blocksTotal) * in.blockKV
	}
}

// advance integrates the device's state from its last update to now. Call
// it before changing anything the integrals depend on.
func (d *device) advance(now engine.Time, insts []*instance) {
	if now <= d.last {
		return
	}
	busy := 0.0
	if len(d.busy) > 0 {
		busy = 1
	}
	d.running = 0
	for _, i := range d.insts {
		d.running += len(insts[i].running)
	}
	clock, reason, watts := d.clocks.Clock(), d.clocks.Reason(), d.watts
	t0 := d.last
	for t0 < now {
		// Spans end at bin boundaries whether the bins are kept or not,
		// so that the totals and the temperature add up alike.
		if t0 < d.binLo || t0 >= d.binHi {
			d.findBin(t0)
		}
		b, t1 := d.bin, min(now, d.binHi)
		dt := (t1 - t0).Seconds()
		temp, tempSec := d.node.Thermal.Advance(d.temp, watts, dt)
		d.temp = temp
		if temp > d.tempPeak { // T is monotone within a span
			d.tempPeak = temp // not max, which also orders NaN and -0: none here
		}
		span := totals{
			Seconds: dt, Busy: busy * dt,
			FLOPs: d.flopsRate * dt, PeakFLOPs: d.normRate * dt, Bytes: d.bytesRate * dt,
			KVBytesSec: d.kvUsed * dt, RunningSec: float64(d.running) * dt, WaitingSec: float64(d.waiting) * dt,
			EnergyJ: watts * float64(d.size) * dt, HostJ: d.hostW() * dt, TempSec: tempSec, ClockSec: clock * dt,
		}
		if d.off {
			span.OffSec = dt
		}
		if reason != power.None {
			span.Throttled = dt
			if reason&power.Thermal != 0 {
				span.ThermalSec = dt
			}
			if reason&power.PowerCap != 0 {
				span.CappedSec = dt
			}
		}
		d.tot.addSpan(&span)
		if b >= 0 && d.bins != nil {
			d.bins[b].addSpan(&span)
		}
		t0 = t1
	}
	d.last = now
}

// findBin sets the bin that time t falls in: the last one from its start
// on.
func (d *device) findBin(t engine.Time) {
	b := min(int(t/d.res), d.nbin-1)
	d.bin, d.binLo, d.binHi = b, engine.Time(b)*d.res, engine.Time(b+1)*d.res
	if b == d.nbin-1 {
		d.binHi = engine.Never // the last bin takes the rest of the run
	}
}

// start begins the instance's planned segment.
func (d *device) start(s *simulator, in *instance, now engine.Time) {
	seg := &in.seg
	seg.start, seg.updated, seg.progress, seg.slowdown = now, now, 0, 1
	seg.plan()
	in.busy = true
	d.busy = append(d.busy, in.idx)
	d.reshare(s, now)
}

// stop removes an instance whose segment ended.
func (d *device) stop(in *instance) {
	in.busy = false
	// What slices.DeleteFunc did (in.idx is there once), without its call
	// through a closure at every segment end.
	if k := slices.Index(d.busy, in.idx); k >= 0 {
		d.busy = slices.Delete(d.busy, k, k+1)
	}
}

// reshare brings every busy segment's progress up to now, recomputes each
// one's slowdown under the node's sharing (sharing.go) and reschedules the
// segments' ends. A starved segment (slowdown +Inf) gets no end: it waits
// for the next reshare, which comes whenever a segment on the device
// starts, stops or is cut short.
//
// Below full clock each segment first stretches by its own throttle
// factor θ (its compute-bound steps at the compute speed, its memory-bound
// steps at the memory speed, overheads unchanged), and its demands are
// taken at that stretched time.
func (d *device) reshare(s *simulator, now engine.Time) {
	clock := d.clocks.Clock()
	kc, km := power.Speeds(clock)
	// The sharer slows a lone segment by nothing, but under MPS with a
	// capped share: it needs no demands (fleets of one instance a device).
	lone := len(d.busy) == 1 && d.share.mode != scenario.MPS
	d.demands = d.demands[:0]
	for _, i := range d.busy {
		in := s.insts[i]
		seg := &in.seg
		seg.progress += (now - seg.updated).Seconds() / seg.slowdown
		seg.updated = now
		seg.theta = 1
		slowed := clock < 1 && seg.alone > 0
		if slowed {
			// θ is a function of the run and the clock alone: priced
			// again only when either changed (plan resets thetaClock).
			if seg.thetaClock != clock {
				run := seg.run.scaled(1/kc, 1/km)
				seg.thetaAt, seg.thetaClock = run.seconds(seg.steps)/seg.alone, clock
			}
			seg.theta = seg.thetaAt
		}
		if lone {
			continue
		}
		dm := demand{c: seg.demandC, m: seg.demandM, g: seg.demandG, share: in.smShare, prio: in.cfg.Priority}
		if slowed {
			dm.c, dm.m, dm.g = dm.c/(kc*seg.theta), dm.m/(km*seg.theta), 1-(1-dm.g)/seg.theta
		}
		dm.step = seg.alone * seg.theta / float64(seg.steps)
		d.demands = append(d.demands, dm)
	}
	switch n := len(d.busy); {
	case lone:
		d.slow = append(d.slow[:0], 1)
	case cap(d.slow) >= n:
		d.slow = d.slow[:n]
		clear(d.slow)
		d.share.slowdowns(d.demands, d.slow)
	default:
		d.slow = make([]float64, n)
		d.share.slowdowns(d.demands, d.slow)
	}
	d.flopsRate, d.normRate, d.bytesRate = 0, 0, 0
	for k, i := range d.busy {
		in := s.insts[i]
		seg := &in.seg
		seg.slowdown = d.slow[k] * seg.theta
		if wall, ok := seg.wallLeft(); ok {
			seg.end = s.sim.Reschedule(seg.end, now+engine.FromSeconds(wall), event{kind: evSegmentEnd, target: int32(i)})
		} else {
			s.sim.Cancel(seg.end)
			seg.end = engine.EventID{}
		}
		if wall := seg.alone * seg.slowdown; wall > 0 {
			d.flopsRate += seg.flops / wall
			d.normRate += seg.flops / in.peak / wall
			d.bytesRate += seg.bytes / wall
		}
	}
	d.setWatts()
	if !d.gov.Disabled && d.node.Power.CapW > 0 && len(d.busy) > 0 {
		a := power.Activity{Busy: 1, MFU: d.normRate, MBU: d.bytesRate / d.bandwidth}
		if d.node.Power.Uncapped(a, clock) > d.node.Power.CapW {
			d.clipped = true
			s.armControl(now)
		}
	}
}

// neverS is a wall time no run reaches (scenarios last at most a month):
// a segment that would take longer at its slowdown, or forever (starved),
// gets no end event until the device is reshared.
const neverS = 1e9

// wallLeft is the wall time the segment still needs at its slowdown, and
// whether that is short enough to schedule its end.
func (seg *segment) wallLeft() (float64, bool) {
	remaining := max(seg.alone-seg.progress, 0)
	if remaining == 0 {
		return 0, true // whatever the slowdown (0 × Inf is NaN)
	}
	wall := remaining * seg.slowdown
	return wall, wall < neverS
}

// setWatts computes the draw of the device's current rates and clock.
func (d *device) setWatts() {
	if d.off {
		d.watts = 0
		return
	}
	busy := 0.0
	if len(d.busy) > 0 {
		busy = 1
	}
	a := power.Activity{Busy: busy, MFU: d.normRate, MBU: d.bytesRate / d.bandwidth}
	d.watts = d.node.Power.Draw(a, d.clocks.Clock())
	if d.watts > d.powerPeak { // not max, which also orders NaN and -0: none here
		d.powerPeak = d.watts
	}
}

// hostW is the rest of the node's draw: none while it is off.
func (d *device) hostW() float64 {
	if d.off {
		return 0
	}
	return d.node.HostW
}

// plan derives a segment's alone time, demands and work from its run.
func (seg *segment) plan() {
	var c, m float64
	seg.alone, c, m, seg.flops, seg.bytes = seg.run.costs(seg.steps)
	seg.thetaClock = 0
	seg.demandC, seg.demandM, seg.demandG = 0, 0, 0
	if seg.alone > 0 {
		seg.demandC, seg.demandM = c/seg.alone, m/seg.alone
		seg.demandG = max(0, 1-seg.run.o*float64(seg.steps)/seg.alone)
	}
}

// control is the governor's tick: it reads the activity since the last
// tick and the temperature now, and sets the clock for the next interval.
func (d *device) control(s *simulator, now engine.Time) {
	d.advance(now, s.insts)
	span := d.tot.sub(d.ctl)
	d.ctl = d.tot
	if span.Seconds <= 0 {
		return
	}
	a := power.Activity{Busy: span.Busy / span.Seconds, MFU: span.PeakFLOPs / span.Seconds,
		MBU: span.Bytes / span.Seconds / d.bandwidth}
	d.clipped = false
	next := d.gov.Next(d.clocks, d.node.Power, d.node.Thermal, a, d.temp)
	if next != d.clocks {
		d.clocks = next
		d.reshare(s, now)
	}
}

// watchMarginC is how far below the hysteresis band a device is already
// watched every interval.
const watchMarginC = 2

// needsWatching reports whether the governor must look again next
// interval: the clock is down, the draw hit the cap, or the device is near
// its slowdown temperature.
func (d *device) needsWatching() bool {
	if d.gov.Disabled {
		return false
	}
	return d.clocks != power.Full || d.clipped || d.temp >= d.gov.SlowdownC-d.gov.HysteresisC-watchMarginC
}

// secondsToWarm is a lower bound on the time until the device could reach
// the watch threshold: heating at the most it can draw (everything busy,
// capped) from its temperature now. +Inf if it never could.
func (d *device) secondsToWarm() float64 {
	if d.gov.Disabled {
		return math.Inf(1)
	}
	limit := d.gov.SlowdownC - d.gov.HysteresisC - watchMarginC
	hottest := d.node.Thermal.Steady(d.node.Power.Draw(power.Activity{Busy: 1, MFU: 1, MBU: 1}, 1))
	switch {
	case d.temp >= limit:
		return 0
	case hottest <= limit:
		return math.Inf(1)
	}
	return d.node.Thermal.Tau() * math.Log((hottest-d.temp)/(hottest-limit))
}
