package sim

import (
	"github.com/fleettwin/fleettwin/power"
	"github.com/fleettwin/fleettwin/scenario"
)

// Nodes of several devices. The simulator's device is a group of
// identical devices that run in lockstep: one instance's tp × pp devices
// (scenario/parallel.go gives each instance devices of its own), the
// node's unused devices (idle, drawing their idle power), or the one
// device of a node of one device with every instance on it, as before.
//
// That is the simplest change that stays right: the instance's step model
// (perf's parallel step) already prices one device's share of each step,
// its FLOPs and bytes are one device's, so the group's busy time,
// activity, MFU, MBU, clock and temperature are those of each of its
// devices, computed exactly as for one device; only what adds up over the
// devices is scaled by their number: the energy (and so the mean and
// peak power) the group draws. A group has one instance, so its sharing
// rule always gives 1.
//
// A node's result (DeviceResult, its series and snapshots) merges its
// groups: sums of what adds (energy, power, KV, requests), device-weighted
// means of what is per device (utilization, MFU, MBU, temperature,
// clock, time throttled). A node of one group reports the group as is:
// for a node of one device, byte for byte what it reported before.

// group is one of a node's simulated devices: the node with only the
// group's instances and its share of the host's power, and how many
// devices it stands for.
type group struct {
	node scenario.Node
	size int
}

// groupsOf splits a node into its groups: one per instance on a node of
// several devices, in device order, and one for the devices no instance
// uses; the node itself on a node of one device.
func groupsOf(n scenario.Node) []group {
	if n.Devices <= 1 {
		return []group{{node: n, size: 1}}
	}
	var gs []group
	used := 0
	for _, in := range n.Instances {
		g := n
		g.Instances = []scenario.NodeInstance{in}
		size := in.Deploy.Layout.Devices()
		used += size
		gs = append(gs, group{node: g, size: size})
	}
	if used < n.Devices {
		g := n
		g.Instances = nil
		gs = append(gs, group{node: g, size: n.Devices - used})
	}
	if len(gs) > 1 {
		for i := range gs {
			gs[i].node.HostW = n.HostW * float64(gs[i].size) / float64(n.Devices)
		}
	}
	return gs
}

// nodeView is node ni as one device for its results: its only group, or
// a device whose integrals merge its groups' (their time-series bins too
// when bins is set: a snapshot needs none).
func (s *simulator) nodeView(ni int, bins bool) *device {
	gs := s.nodeDevs[ni]
	if len(gs) == 1 {
		return s.devs[gs[0]]
	}
	n := s.sc.Nodes[ni]
	g0 := s.devs[gs[0]]
	m := &device{idx: -1, node: n, bandwidth: n.Hardware.BandwidthBytesPerSecond(), res: g0.res, size: 1}
	w := make([]float64, len(gs))
	for k, i := range gs {
		d := s.devs[i]
		w[k] = float64(d.size) / float64(n.Devices)
		m.insts = append(m.insts, d.insts...)
		m.kvCapacity += d.kvCapacity
		m.kvPeak += d.kvPeak
		m.powerPeak += d.powerPeak * float64(d.size)
		m.tempPeak = max(m.tempPeak, d.tempPeak)
		m.temp += w[k] * d.temp
	}
	merge := func(of func(*device) totals) totals {
		var t totals
		for k, i := range gs {
			t.addDevice(of(s.devs[i]), w[k])
		}
		return t
	}
	m.tot = merge(func(d *device) totals { return d.tot })
	m.warm = merge(func(d *device) totals { return d.warm })
	m.snap = merge(func(d *device) totals { return d.snap })
	if bins && g0.bins != nil {
		m.bins = make([]totals, len(g0.bins))
		for b := range m.bins {
			m.bins[b] = merge(func(d *device) totals { return d.bins[b] })
		}
	}
	return m
}

// addDevice adds a group's integrals to a node's: the device figures
// weighted by the group's share w of the node's devices, the node figures
// in full; the span is the same for every group.
func (t *totals) addDevice(o totals, w float64) {
	t.Seconds = o.Seconds
	t.Busy += w * o.Busy
	t.FLOPs += w * o.FLOPs
	t.PeakFLOPs += w * o.PeakFLOPs
	t.Bytes += w * o.Bytes
	t.TempSec += w * o.TempSec
	t.ClockSec += w * o.ClockSec
	t.Throttled += w * o.Throttled
	t.ThermalSec += w * o.ThermalSec
	t.CappedSec += w * o.CappedSec
	t.KVBytesSec += o.KVBytesSec
	t.RunningSec += o.RunningSec
	t.WaitingSec += o.WaitingSec
	t.EnergyJ += o.EnergyJ
	t.HostJ += o.HostJ
}

// nodeResult is node ni's result: its view's, with the node's devices
// named where it has several.
func (s *simulator) nodeResult(ni int) DeviceResult {
	r := s.nodeView(ni, false).result(s, s.sim.Now())
	if n := s.sc.Nodes[ni]; n.Devices > 1 {
		r.Devices, r.NodeType = n.Devices, n.NodeType
	}
	if s.nodeScaler != nil && s.nodeScaler[ni] >= 0 {
		// The node's devices switch together: its first one tells.
		d := s.devs[s.nodeDevs[ni][0]]
		w := d.tot.sub(d.warm)
		held := w.Seconds - w.OffSec
		r.WindowHeldS = &held
	}
	return r
}

// nodeSnapshot is node ni's activity since the last snapshot, which it
// then moves on for each of its groups.
func (s *simulator) nodeSnapshot(ni int) DeviceSnapshot {
	v := s.nodeView(ni, false)
	clock, reason := v.clocks.Clock(), v.clocks.Reason()
	if gs := s.nodeDevs[ni]; len(gs) > 1 {
		clock, reason = 0, power.None
		for _, i := range gs {
			d := s.devs[i]
			clock += d.clocks.Clock() * float64(d.size) / float64(s.sc.Nodes[ni].Devices)
			reason |= d.clocks.Reason()
		}
	}
	sn := DeviceSnapshot{Node: v.node.Name, Activity: v.activity(v.tot.sub(v.snap)), TempNowC: v.temp, ClockNow: clock, Throttle: reason.String()}
	for _, i := range s.nodeDevs[ni] {
		s.devs[i].snap = s.devs[i].tot
	}
	return sn
}

// shareNodeEnergy gives each model its share of node ni's energy after
// warm-up by the time its instances kept the node's devices busy
// (device-seconds: an instance on 8 devices counts 8 for each second).
// A node of one group shares as a lone device always has.
func (s *simulator) shareNodeEnergy(res *Result, ni int) {
	gs := s.nodeDevs[ni]
	var busy float64
	for _, g := range gs {
		d := s.devs[g]
		for _, i := range d.insts {
			busy += (s.insts[i].prefillSec + s.insts[i].decodeSec) * d.scale(len(gs))
		}
	}
	if busy <= 0 {
		return
	}
	for _, g := range gs {
		d := s.devs[g]
		for _, i := range d.insts {
			in := s.insts[i]
			res.Models[in.model].EnergyJ += res.Devices[ni].WindowNodeEnergyJ * (in.prefillSec + in.decodeSec) * d.scale(len(gs)) / busy
		}
	}
}

// scale is the weight of the group's busy seconds among groups groups of
// its node: its devices, or 1 for a node's only group (whose weight then
// cancels: the share is the one before node types, to the last bit).
func (d *device) scale(groups int) float64 {
	if groups == 1 {
		return 1
	}
	return float64(d.size)
}
