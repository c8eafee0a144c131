package sim

import (
	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/scenario"
)

// canEverFit reports whether the request could run on an empty instance.
func (in *instance) canEverFit(r *request) bool {
	if !in.cfg.ChunkedPrefill && int(r.input) > in.cfg.MaxBatchedTokens {
		return false
	}
	tokens := r.input + r.output
	if in.role == scenario.RolePrefill {
		tokens = r.input + 1 // its output is the first token; the rest decodes elsewhere
	}
	return blocksFor(tokens, int32(in.cfg.BlockTokens)) <= in.blocksTotal
}

// freeBlocks is how many KV blocks the instance can still take.
func (s *simulator) freeBlocks(in *instance) int64 {
	d := s.devs[in.node]
	if d.node.DynamicMemory {
		return int64((d.kvCapacity - d.kvUsed) / in.blockKV)
	}
	return in.blocksTotal - in.blocksUsed
}

// takeBlocks takes (or, negative, returns) KV blocks. Callers check
// freeBlocks first; the peak is kept so tests can hold them to it.
func (s *simulator) takeBlocks(in *instance, n int64) {
	if in.pool != nil && n > 0 {
		s.makeRoom(in, n) // evict cached blocks (prefix.go)
	}
	in.blocksUsed += n
	d := s.devs[in.node]
	d.kvUsed += float64(n) * in.blockKV
	if d.kvUsed > d.kvPeak { // not max, which also orders NaN and -0: none here
		d.kvPeak = d.kvUsed
	}
}

// preempt evicts the running request that the scheduler values least (lowest
// priority, then latest arrival); it will recompute its KV cache later.
func (s *simulator) preempt(in *instance, now engine.Time) {
	victim := 0
	for i, id := range in.running {
		a, b := &s.reqs[id], &s.reqs[in.running[victim]]
		pa, pb := in.waiting.prio[a.class], in.waiting.prio[b.class]
		if pa > pb || pa == pb && a.seq > b.seq {
			victim = i
		}
	}
	id := in.running[victim]
	in.running = append(in.running[:victim], in.running[victim+1:]...)
	r := &s.reqs[id]
	if r.decoding() {
		in.dec.leave(r, id) // its tokens up to date
	} else {
		in.prefillLeft -= clipLeft(r)
	}
	s.releaseBlocks(in, id)
	r.prompt = r.input + r.generated
	r.prefilled, r.context = 0, 0
	r.preemptions++
	s.models[r.model].stats.preemptions++
	in.waiting.push(id)
	s.devs[in.node].waiting++
	if in.prefillFirst {
		s.retractRatio(in)
	}
}

// releaseBlocks gives back a finishing, preempted or shipped request's
// blocks; with a prefix cache its full blocks stay cached (prefix.go).
func (s *simulator) releaseBlocks(in *instance, id int32) {
	if in.pc != nil {
		s.releaseCached(in, id)
		return
	}
	s.takeBlocks(in, -blocksFor(s.reqs[id].context, int32(in.cfg.BlockTokens)))
}
