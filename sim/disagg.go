package sim

import (
	"slices"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sketch"
)

// Disaggregated prefill and decode (scenario/disagg.go). A model served by
// prefill-role and decode-role instances routes each request, with its
// router, over the prefill pool; that instance runs the prompt as today
// and its last prompt position yields the first token (TTFT ends there:
// the prefill server returns it, as in vLLM's and SGLang's PD serving).
// Its KV then leaves the prefill instance's memory and crosses a link to
// a decode instance, picked by the same router over the decode pool when
// the transfer starts (so routers count transfers in flight as
// outstanding work). On arrival the request joins the decode instance's
// waiting queue already prefilled; admission takes the blocks of its
// whole context at once and it decodes from the next step, as any other
// running request. TPOT and E2E therefore include the transfer.
//
// The transfer: bytes = context tokens × KV bytes per token (the
// instance's KV block bytes / block tokens, with a drafter's cache); it
// takes latency + bytes / (bandwidth × ports). The link is the node
// type's interconnect when both instances are on the same node of several
// devices, else the scenario's network ([network], DefaultNetwork: one
// 400 Gb/s port per device, as on a DGX); ports is the smaller of the two
// instances' device counts, since each device sends its own shard of the
// KV over its own NIC or NVLink port (a TP8 instance ships over 8 ports).
//
// Contention: each instance has one send and one receive queue, FIFO. A
// transfer starts when the link is free at both ends, start = max(now,
// sender's send queue free, receiver's receive queue free), holds both
// until start + bytes / bandwidth, and arrives a latency later. So two
// prefill instances shipping to one decode instance take turns on its
// receive side, and one prefill instance feeding several decoders sends
// one KV at a time: store-and-forward reservation, which overstates the
// wait of a fair share by at most one transfer and keeps runs exactly
// reproducible. Transfers do not slow steps (RDMA engines copy without the
// SMs; what NIXL or Mooncake's copies cost the GPU is not modelled).

// evKVArrive: a request's KV reached its decode instance (target: request).
const evKVArrive = evFrontend + 1

// kvPort is an instance's role and its ends of the KV links.
type kvPort struct {
	role               scenario.Role
	sendFree, recvFree engine.Time // when its send and receive queues are next free
	arriving           []int32     // requests whose KV is on its way here, in send order
}

// kvState is a disaggregated model's decode pool and its transfer stats.
type kvState struct {
	decode []int // decode-role instances; modelState.instances is the prefill pool
	rr     int
	// transfer: each counted request's transfer time (queueing on the
	// link included) and bytes.
	transfer *sketch.Sketch
	bytes    float64
	count    int64
}

// addDecode puts a decode-role instance in its model's decode pool.
func (s *simulator) addDecode(m *modelState, in int) {
	if m.kv == nil {
		m.kv = &kvState{transfer: sketch.New(SketchAlpha)}
		m.rngDecode = s.streams.Stream("router-decode/" + m.spec.Name)
	}
	m.kv.decode = append(m.kv.decode, in)
}

// shipped reports whether a waiting request arrives with its KV (from a
// prefill instance) rather than a prompt to run: a preempted request has
// no context, a new one has not prefilled.
func (r *request) shipped() bool { return r.context > 0 && r.decoding() }

// handoff ends a request's prefill phase on instance from: its blocks go
// back, a decode instance is picked and the KV is sent to it.
func (s *simulator) handoff(from *instance, id int32, now engine.Time) {
	r := &s.reqs[id]
	s.releaseBlocks(from, id)
	from.outstanding--
	m := s.models[from.model]
	to := s.insts[s.pick(m, m.kv.decode, &m.kv.rr, m.rngDecode)]
	r.instance = int32(to.idx)
	if !to.canEverFit(r) {
		s.finish(to, id, now, true)
		return
	}
	to.outstanding++
	link, ports := s.kvLink(from, to)
	bytes := float64(r.context) * from.blockKV / float64(from.cfg.BlockTokens)
	busy := engine.FromSeconds(bytes / (link.BandwidthBytesPerSecond() * ports))
	start := max(now, from.sendFree, to.recvFree)
	from.sendFree, to.recvFree = start+busy, start+busy
	at := start + busy + engine.FromSeconds(link.LatencySeconds())
	if r.counted {
		m.kv.transfer.Add((at - now).Seconds())
		m.kv.bytes += bytes
		m.kv.count++
	}
	to.arriving = append(to.arriving, id)
	s.sim.Schedule(at, event{kind: evKVArrive, target: id})
}

// kvLink is the link a transfer between two instances crosses and how
// many ports of it carry it.
func (s *simulator) kvLink(from, to *instance) (catalog.Interconnect, float64) {
	fn, tn := s.devs[from.node].node, s.devs[to.node].node
	ports := float64(min(from.cfg.Deploy.Layout.Devices(), to.cfg.Deploy.Layout.Devices()))
	if fn.Name == tn.Name && fn.Devices > 1 && fn.Link.BandwidthGBs > 0 {
		return fn.Link, ports
	}
	if s.sc.Network.BandwidthGBs > 0 {
		return s.sc.Network, ports
	}
	return scenario.DefaultNetwork, ports // a scenario built in code
}

// kvArrive is evKVArrive: the request joins its decode instance's queue.
func (s *simulator) kvArrive(id int32, now engine.Time) {
	to := s.insts[s.reqs[id].instance]
	if i := slices.Index(to.arriving, id); i >= 0 {
		to.arriving = slices.Delete(to.arriving, i, i+1)
	}
	d := s.devs[to.node]
	d.advance(now, s.insts)
	to.waiting.push(id)
	d.waiting++
	s.wake(to, now)
}

// kvResult adds a disaggregated model's transfer figures to its result.
func (k *kvState) result(r *ModelResult) {
	if k == nil {
		return
	}
	l := summarize(k.transfer)
	r.KVTransfers, r.KVTransferS = k.count, &l
	if k.count > 0 {
		r.KVTransferBytes = k.bytes / float64(k.count)
	}
}
