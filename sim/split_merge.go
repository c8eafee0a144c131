package sim

import (
	"fmt"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/scenario"
)

// merger rebuilds a split run's serial order from its parts' streams
// (split_run.go) and keeps what the serial run keeps across models:
// Little's law's integral and sojourn sum, and the count of records and
// snapshots delivered.
type merger struct {
	opt  Options
	sc   *scenario.Scenario
	runs []*partRun
	// the streams' heads
	bufs []*batch
	pos  []int
	done []bool

	inSystem   int
	littleArea float64
	littleLast engine.Time
	sojourn    float64

	records, snapshots int64
}

// head is part k's next item, nil once its stream has ended.
func (m *merger) head(k int) *item {
	for !m.done[k] && (m.bufs[k] == nil || m.pos[k] == len(m.bufs[k].items)) {
		if m.bufs[k] != nil {
			select { // back to the part, to fill again
			case m.runs[k].free <- m.bufs[k]:
			default:
			}
		}
		b, ok := <-m.runs[k].out
		if !ok {
			m.done[k] = true
			break
		}
		m.bufs[k], m.pos[k] = b, 0
	}
	if m.done[k] {
		return nil
	}
	return &m.bufs[k].items[m.pos[k]]
}

// merge consumes every stream to its end. It returns errTie, and stops
// consuming, at two finishes that cannot be ordered.
func (m *merger) merge() error {
	n := len(m.runs)
	m.bufs, m.pos, m.done = make([]*batch, n), make([]int, n), make([]bool, n)
	heads := make([]*item, n)
	for {
		best, live := -1, 0
		for k := range m.runs {
			heads[k] = m.head(k)
			h := heads[k]
			if h == nil {
				continue
			}
			live++
			if h.kind == itArm {
				return errArm
			}
			if h.kind == itSnapshot || h.kind == itTick {
				continue
			}
			if best < 0 {
				best = k
				continue
			}
			first, ok := before(h, heads[best])
			if !ok {
				return errTie
			}
			if first {
				best = k
			}
		}
		switch {
		case live == 0:
			return nil
		case best >= 0:
			m.take(heads[best], m.bufs[best])
			m.pos[best]++
		default:
			if err := m.barrier(heads, live); err != nil {
				return err
			}
			for k := range m.runs {
				if heads[k] != nil {
					m.pos[k]++
				}
			}
		}
	}
}

// before reports whether a runs before b in the serial order. Arrivals
// go first at an instant: only finishes' order shows (in the sojourn sum
// and the records), and an arrival before a finish of another part would
// otherwise hide that part's next finish at the same instant.
func before(a, b *item) (bool, bool) {
	if a.at != b.at {
		return a.at < b.at, true
	}
	if a.kind == itArrive || b.kind == itArrive {
		return a.kind == itArrive && b.kind != itArrive, true
	}
	c, ok := orderKeys(a.key, b.key)
	return c < 0, ok
}

func (m *merger) advanceLittle(now engine.Time) {
	if now > m.littleLast {
		m.littleArea += float64(m.inSystem) * (now - m.littleLast).Seconds()
		m.littleLast = now
	}
}

// take applies an arrival or a finish as the serial run's arrive and
// finish do.
func (m *merger) take(it *item, b *batch) {
	m.advanceLittle(it.at)
	if it.kind == itArrive {
		m.inSystem++
		return
	}
	m.inSystem--
	m.sojourn += (it.at - it.arrival).Seconds()
	if m.opt.OnRequest != nil {
		m.records++
		m.opt.OnRequest(b.recs[it.ref])
	}
}

// barrier is a snapshot, every part's head: the serial run's one. Parts
// stopped by a cancellation may not all reach it; it is then passed over.
func (m *merger) barrier(heads []*item, live int) error {
	if live != len(m.runs) {
		return nil
	}
	at, kind := heads[0].at, heads[0].kind
	for _, h := range heads {
		if h.at != at || h.kind != kind {
			return fmt.Errorf("sim: split run: parts' barriers differ: %v at %v, %v at %v", kind, at, h.kind, h.at)
		}
	}
	if kind == itTick {
		return nil
	}
	m.advanceLittle(at)
	if m.opt.OnSnapshot == nil {
		return nil
	}
	var events, replicated int64
	parts := make([]*Snapshot, len(heads))
	for k, h := range heads {
		ps := m.bufs[k].snaps[h.ref]
		events += ps.events
		replicated = ps.replicated
		parts[k] = ps.snap
	}
	sn := m.join(parts, events-int64(len(heads)-1)*replicated)
	m.snapshots++
	m.opt.OnSnapshot(sn)
	return nil
}

// join places the parts' snapshots' models and devices in the scenario's
// order.
func (m *merger) join(parts []*Snapshot, events int64) Snapshot {
	sn := *parts[0]
	sn.Events = events
	sn.Models = make([]ModelSnapshot, len(m.sc.Models))
	sn.Devices = make([]DeviceSnapshot, len(m.sc.Nodes))
	for k, p := range m.runs {
		for j, g := range p.models {
			sn.Models[g] = parts[k].Models[j]
		}
		for j, g := range p.nodes {
			sn.Devices[g] = parts[k].Devices[j]
		}
	}
	return sn
}

// result joins the parts' results as the serial run's result: models and
// nodes in the scenario's order, and the totals over the fleet (events,
// Little's law) computed in the serial order.
func (m *merger) result(outs []partOutcome) *Result {
	var now engine.Time
	var events, replicated, arrivals int64
	for k, o := range outs {
		now = max(now, o.s.sim.Now())
		events += o.s.events
		replicated = m.runs[k].replicated
		arrivals += o.s.arrivals
	}
	r0 := outs[0].res
	res := &Result{Scenario: r0.Scenario, Seed: r0.Seed, DurationS: now.Seconds(), WarmupS: r0.WarmupS,
		Events: events - int64(len(outs)-1)*replicated, Partial: now < m.sc.Duration,
		Models: make([]ModelResult, len(m.sc.Models)), Devices: make([]DeviceResult, len(m.sc.Nodes)),
		Series: make([]DeviceSeries, len(m.sc.Nodes))}
	// The sojourn of requests still in the system, instance by instance in
	// the serial run's order.
	where := make([][2]int, 0, len(outs))
	for k, p := range m.runs {
		for j, g := range p.insts {
			for len(where) <= g {
				where = append(where, [2]int{})
			}
			where[g] = [2]int{k, j}
		}
	}
	m.advanceLittle(now)
	sojourn := m.sojourn
	for _, w := range where {
		for _, t := range outs[w[0]].sojourn[w[1]] {
			sojourn += t
		}
	}
	if window := (now - m.sc.Warmup).Seconds(); window > 0 {
		res.Little = LittleCheck{MeanInSystem: m.littleArea / window, ArrivalRate: float64(arrivals) / window}
		if arrivals > 0 {
			res.Little.MeanSojournS = sojourn / float64(arrivals)
		}
		res.Little.LambdaW = res.Little.ArrivalRate * res.Little.MeanSojournS
	}
	for k, p := range m.runs {
		r := outs[k].res
		for j, g := range p.models {
			res.Models[g] = r.Models[j]
		}
		for j, g := range p.nodes {
			res.Devices[g], res.Series[g] = r.Devices[j], r.Series[j]
		}
	}
	return res
}

// finalSnapshot is the serial run's last snapshot, from the parts'.
func (m *merger) finalSnapshot(outs []partOutcome, res *Result) Snapshot {
	parts := make([]*Snapshot, len(outs))
	for k := range outs {
		parts[k] = &outs[k].final
	}
	return m.join(parts, res.Events)
}
