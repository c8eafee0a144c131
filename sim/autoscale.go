package sim

import (
	"math"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/scenario"
)

// Autoscaled node groups (scenario/autoscale.go). Each group has a scaler
// that wakes every scrape interval, reads its serving nodes' utilization
// or queue over the interval just past, and sets how many nodes it holds:
//
//	desired = ceil(serving × metric / target), within [min, max]
//
// ignored while metric/target is within the HPA's 10% tolerance. More
// nodes are asked for at once and serve after their cold start; fewer
// only when every recommendation of the stabilization window asks for
// fewer. A node scaled down first takes no new requests (drains), and is
// switched off at the first tick that finds its instances empty. An off
// node draws nothing and its devices count no held time; a booting or
// draining one is held (and paid for when renting) but serves no new
// request.

// evScale: a scaler's tick (target: scaler); evNodeReady: a booting
// node's cold start is over (target: node).
const (
	evScale     = evTurn + 1
	evNodeReady = evTurn + 2
)

// scaleTolerance is the Kubernetes HPA's default: no change while the
// metric is within 10% of the target.
const scaleTolerance = 0.1

type nodeState uint8

const (
	nodeServing nodeState = iota
	nodeOff
	nodeBooting
	nodeDraining
)

// scaler is one autoscaled group's controller and its bookkeeping.
type scaler struct {
	g     scenario.ScaleGroup
	state []nodeState   // per node of g.Nodes
	mark  [][]totals    // per node, per device: totals at the last tick
	recs  []scaleRec    // recommendations within the stabilization window
	ready []engine.Time // when a booting node serves

	ups, downs int
	peak       int
	// held integrates the nodes held (serving, booting or draining)
	// over time: in all, after warm-up, and per series bin.
	last     engine.Time
	heldSec  float64
	warmSec  float64
	heldBins []float64
}

type scaleRec struct {
	at      engine.Time
	desired int
}

// held counts the nodes held now.
func (c *scaler) held() int {
	n := 0
	for _, st := range c.state {
		if st != nodeOff {
			n++
		}
	}
	return n
}

// newScalers sets up the scenario's autoscaled groups: nodes past each
// group's initial count start off.
func (s *simulator) newScalers() {
	if len(s.sc.Autoscale) == 0 {
		return
	}
	s.devNode = make([]int, len(s.devs))
	for ni, ds := range s.nodeDevs {
		for _, di := range ds {
			s.devNode[di] = ni
		}
	}
	s.nodeScaler = make([]int32, len(s.sc.Nodes))
	s.nodeSlot = make([]int32, len(s.sc.Nodes))
	for i := range s.nodeScaler {
		s.nodeScaler[i] = -1
	}
	bins := s.devs[0].nbin
	for gi, g := range s.sc.Autoscale {
		c := &scaler{g: g, state: make([]nodeState, len(g.Nodes)), mark: make([][]totals, len(g.Nodes)),
			ready: make([]engine.Time, len(g.Nodes)), heldBins: make([]float64, bins)}
		for k, ni := range g.Nodes {
			s.nodeScaler[ni], s.nodeSlot[ni] = int32(gi), int32(k)
			c.mark[k] = make([]totals, len(s.nodeDevs[ni]))
			if k >= g.Initial {
				c.state[k] = nodeOff
				s.setNodeOff(ni, true, 0)
			}
		}
		c.peak = c.held()
		s.scalers = append(s.scalers, c)
	}
	for _, m := range s.models {
		for _, i := range m.instances {
			if s.nodeScaler[s.devNode[s.insts[i].node]] >= 0 {
				m.scaled = true
			}
		}
	}
	s.refreshLive()
}

// startScalers schedules each group's first tick.
func (s *simulator) startScalers() {
	for i, c := range s.scalers {
		s.sim.Schedule(engine.FromSeconds(c.g.Rule.ScrapeS), event{kind: evScale, target: int32(i)})
	}
}

// routable is the instances model m's router may send a new request to:
// all of them, or with autoscaling those on serving nodes.
func (m *modelState) routable() []int {
	if m.scaled && len(m.live) > 0 {
		return m.live
	}
	return m.instances
}

// refreshLive rebuilds each autoscaled model's serving instances.
func (s *simulator) refreshLive() {
	for _, m := range s.models {
		if !m.scaled {
			continue
		}
		m.live = m.live[:0]
		for _, i := range m.instances {
			if s.serving(s.devNode[s.insts[i].node]) {
				m.live = append(m.live, i)
			}
		}
	}
}

// serving reports whether node ni takes new requests.
func (s *simulator) serving(ni int) bool {
	gi := s.nodeScaler[ni]
	if gi < 0 {
		return true
	}
	return s.scalers[gi].state[s.nodeSlot[ni]] == nodeServing
}

// setNodeOff switches node ni's devices off or on at now.
func (s *simulator) setNodeOff(ni int, off bool, now engine.Time) {
	for _, di := range s.nodeDevs[ni] {
		d := s.devs[di]
		d.advance(now, s.insts)
		d.off = off
		d.setWatts()
	}
}

// account integrates the nodes c holds up to now.
func (s *simulator) account(c *scaler, now engine.Time) {
	held := float64(c.held())
	res := s.sc.SeriesResolution
	for t0 := c.last; t0 < now; {
		b := int(t0 / res)
		t1 := now
		if b < len(c.heldBins)-1 {
			t1 = min(now, engine.Time(b+1)*res)
		} else {
			b = len(c.heldBins) - 1
		}
		dt := (t1 - t0).Seconds()
		c.heldSec += held * dt
		if b >= 0 {
			c.heldBins[b] += held * dt
		}
		if t1 > s.sc.Warmup {
			c.warmSec += held * (t1 - max(t0, s.sc.Warmup)).Seconds()
		}
		t0 = t1
	}
	c.last = max(c.last, now)
}

// scaleTick is evScale: group gi reads its metric and acts.
func (s *simulator) scaleTick(gi int, now engine.Time) {
	c := s.scalers[gi]
	rule := c.g.Rule
	s.account(c, now)
	var busy, secs, waiting, running, kv, kvCap float64
	serving := 0
	for k, ni := range c.g.Nodes {
		for j, di := range s.nodeDevs[ni] {
			d := s.devs[di]
			d.advance(now, s.insts)
			delta := d.tot.sub(c.mark[k][j])
			c.mark[k][j] = d.tot
			if c.state[k] == nodeServing {
				busy += delta.Busy * float64(d.size)
				secs += delta.Seconds * float64(d.size)
				waiting += delta.WaitingSec
				running += delta.RunningSec
				kv += delta.KVBytesSec
				kvCap += d.kvCapacity * delta.Seconds
			}
		}
		if c.state[k] == nodeServing {
			serving++
		}
		// A drained node with nothing left is switched off.
		if c.state[k] == nodeDraining && s.nodeEmpty(ni) {
			c.state[k] = nodeOff
			s.setNodeOff(ni, true, now)
		}
	}
	metric := 0.0
	switch rule.Policy {
	case scenario.ScaleQueue:
		if serving > 0 {
			metric = waiting / rule.ScrapeS / float64(serving)
		}
	case scenario.ScaleConcurrency:
		if serving > 0 {
			metric = (running + waiting) / rule.ScrapeS / float64(serving)
		}
	case scenario.ScaleKV:
		if kvCap > 0 {
			metric = kv / kvCap
		}
	default:
		if secs > 0 {
			metric = busy / secs
		}
	}
	held := c.held()
	desired := held
	if ratio := metric / rule.Target; serving > 0 && math.Abs(ratio-1) > scaleTolerance {
		desired = int(math.Ceil(float64(serving) * ratio))
	}
	desired = min(max(desired, c.g.Rule.Min), c.g.Rule.Max)
	c.recs = append(c.recs, scaleRec{at: now, desired: desired})
	window := engine.FromSeconds(rule.ScaleDownWindowS)
	for len(c.recs) > 1 && c.recs[0].at < now-window {
		c.recs = c.recs[1:]
	}
	stable := 0
	for _, r := range c.recs {
		stable = max(stable, r.desired)
	}
	switch {
	case desired > held:
		s.scaleUp(c, desired-held, now)
	case stable < held:
		s.scaleDown(c, held-stable, now)
	}
	c.peak = max(c.peak, c.held())
	s.refreshLive()
	if next := now + engine.FromSeconds(rule.ScrapeS); next < s.sc.Duration {
		s.sim.Schedule(next, event{kind: evScale, target: int32(gi)})
	}
}

// scaleUp adds n nodes: draining ones serve again at once, then off ones
// boot.
func (s *simulator) scaleUp(c *scaler, n int, now engine.Time) {
	for k := range c.state {
		if n > 0 && c.state[k] == nodeDraining {
			c.state[k] = nodeServing
			n--
		}
	}
	for k, ni := range c.g.Nodes {
		if n > 0 && c.state[k] == nodeOff {
			c.state[k] = nodeBooting
			s.setNodeOff(ni, false, now)
			c.ready[k] = now + engine.FromSeconds(c.g.ColdStartS)
			s.sim.Schedule(c.ready[k], event{kind: evNodeReady, target: int32(ni)})
			c.ups++
			n--
		}
	}
}

// scaleDown releases n nodes, the last ones first: a booting node is
// switched off at once, a serving one drains.
func (s *simulator) scaleDown(c *scaler, n int, now engine.Time) {
	for k := len(c.state) - 1; k >= 0 && n > 0; k-- {
		switch c.state[k] {
		case nodeBooting:
			c.state[k] = nodeOff
			s.setNodeOff(c.g.Nodes[k], true, now)
		case nodeServing:
			if s.nodeEmpty(c.g.Nodes[k]) {
				c.state[k] = nodeOff
				s.setNodeOff(c.g.Nodes[k], true, now)
			} else {
				c.state[k] = nodeDraining
			}
		default:
			continue
		}
		c.downs++
		n--
	}
}

// nodeReady is evNodeReady: a booted node serves, unless it was switched
// off (or off and booted again) since.
func (s *simulator) nodeReady(ni int, now engine.Time) {
	c, k := s.scalers[s.nodeScaler[ni]], s.nodeSlot[ni]
	if c.state[k] == nodeBooting && c.ready[k] == now {
		s.account(c, now)
		c.state[k] = nodeServing
		s.refreshLive()
	}
}

// nodeEmpty reports whether node ni's instances hold no request.
func (s *simulator) nodeEmpty(ni int) bool {
	for _, di := range s.nodeDevs[ni] {
		for _, i := range s.devs[di].insts {
			if s.insts[i].outstanding > 0 || s.insts[i].busy {
				return false
			}
		}
	}
	return true
}

// ScaleResult is an autoscaled group's run: how many nodes it held.
type ScaleResult struct {
	Group      string  `json:"group"`
	Min        int     `json:"min"`
	Max        int     `json:"max"`
	Policy     string  `json:"policy"`
	Target     float64 `json:"target"`
	ColdStartS float64 `json:"cold_start_s"`
	// NodeHours and MeanNodes are over the run after warm-up; PeakNodes
	// over the whole run.
	NodeHours  float64 `json:"node_hours"`
	MeanNodes  float64 `json:"mean_nodes"`
	PeakNodes  int     `json:"peak_nodes"`
	ScaleUps   int     `json:"scale_ups"`
	ScaleDowns int     `json:"scale_downs"`
	// NodesHeld is the mean nodes held in each time-series bin.
	NodesHeld []float64 `json:"nodes_held"`
}

// scaleResults closes each group's accounts at now.
func (s *simulator) scaleResults(now engine.Time) []ScaleResult {
	var out []ScaleResult
	res := s.sc.SeriesResolution.Seconds()
	window := (now - s.sc.Warmup).Seconds()
	for _, c := range s.scalers {
		s.account(c, now)
		r := ScaleResult{Group: c.g.Group, Min: c.g.Rule.Min, Max: c.g.Rule.Max, Policy: string(c.g.Rule.Policy),
			Target: c.g.Rule.Target, ColdStartS: round6(c.g.ColdStartS), NodeHours: round6(c.warmSec / 3600),
			PeakNodes: c.peak, ScaleUps: c.ups, ScaleDowns: c.downs}
		if window > 0 {
			r.MeanNodes = round6(c.warmSec / window)
		}
		for _, h := range c.heldBins {
			r.NodesHeld = append(r.NodesHeld, round6(h/res))
		}
		out = append(out, r)
	}
	return out
}

// round6 keeps six decimals: results read well and stay byte-stable.
func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
