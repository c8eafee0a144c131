package sim

import (
	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/perf"
)

// admissible reports whether the head of the waiting queue could join the
// batch at the next step.
func (s *simulator) admissible(in *instance) bool {
	if len(in.waiting.ids) == 0 || len(in.running) >= in.cfg.MaxSeqs {
		return false
	}
	head := &s.reqs[in.waiting.ids[0]]
	budget := in.cfg.MaxBatchedTokens - len(in.running)
	if budget <= 0 {
		return false
	}
	if head.shipped() { // its KV arrived from a prefill instance (disagg.go)
		return blocksFor(head.context, int32(in.cfg.BlockTokens)) <= s.freeBlocks(in)
	}
	cached, pin := s.cachedPrefix(in, in.waiting.ids[0]) // prefix.go
	prompt := head.prompt - cached
	chunk := min(int(prompt), budget, in.cfg.ChunkTokens)
	if !in.cfg.ChunkedPrefill {
		if int(prompt) > in.cfg.MaxBatchedTokens {
			return false
		}
		chunk = int(prompt)
	}
	if blocksFor(int32(chunk), int32(in.cfg.BlockTokens))+pin > s.freeBlocks(in) {
		return false
	}
	return !in.prefillFirst || s.reserveAdmits(in, head, s.reservedTokens(in), 0)
}

// startWork plans the instance's next segment if it is idle and has work.
func (s *simulator) startWork(in *instance, now engine.Time) {
	if in.busy {
		return
	}
	bt := int32(in.cfg.BlockTokens)
	decodeOnly := false // prefill-first found no prompt chunk to run: decode
	for {
		admittedKV := false // requests with their KV joined: plan a step for them
		// Blocks the decode tokens of the next step need; preempt the
		// lowest-priority, latest request until they fit.
		decodes, need := in.dec.n, s.decodeNeed(in)
		if need > s.freeBlocks(in) && len(in.running) > 0 {
			s.preempt(in, now)
			continue
		}
		prefillStep := in.cfg.ChunkedPrefill || decodes == 0 || s.admissible(in)
		mixed := in.cfg.ChunkedPrefill
		if in.prefillFirst && decodes > 0 {
			prefillStep = !decodeOnly && (s.admissible(in) || s.midPrefill(in))
			mixed = !prefillStep
		}
		var b perf.Batch
		in.seg = segment{prefill: in.seg.prefill[:0], decodes: mixed || !prefillStep}
		budget := in.cfg.MaxBatchedTokens
		if in.seg.decodes {
			s.addDecodes(in, &b, 0)
			budget -= decodes
			s.takeBlocks(in, need)
		}
		if prefillStep {
			// Continue prefills already running (chunked prefill only),
			// if any: every running request may be decoding.
			prefilling := in.running
			if len(in.running) == decodes {
				prefilling = nil
			}
			for _, id := range prefilling {
				r := &s.reqs[id]
				if r.decoding() || budget <= 0 {
					continue
				}
				n := min(r.prompt-r.prefilled, int32(budget), int32(in.cfg.ChunkTokens))
				nb := blocksFor(r.context+n, bt) - blocksFor(r.context, bt)
				if nb > s.freeBlocks(in) {
					continue
				}
				s.takeBlocks(in, nb)
				b.AddPrefill(int(n), int(r.context))
				in.seg.prefill = append(in.seg.prefill, prefillChunk{id: id, n: n})
				budget -= int(n)
			}
			// Admit from the waiting queue. A prefill-first (SGLang)
			// instance keeps room for its running requests' output.
			reserve, admittedTokens := -1.0, 0.0
			for len(in.waiting.ids) > 0 && len(in.running) < in.cfg.MaxSeqs && budget > 0 {
				id := in.waiting.ids[0]
				r := &s.reqs[id]
				if r.shipped() { // its KV arrived (disagg.go)
					// It decodes in this step if the step decodes (its
					// first token's block taken with its KV's), else from
					// the next: endSegment credits a step's tokens to
					// every decoding request it holds.
					nb := blocksFor(r.context, bt)
					if in.seg.decodes {
						nb = blocksFor(r.context+1, bt)
					}
					if nb > s.freeBlocks(in) {
						break
					}
					in.waiting.pop()
					s.devs[in.node].waiting--
					s.takeBlocks(in, nb)
					in.join(r, id)
					in.dec.join(r, id)
					if in.seg.decodes {
						b.AddDecode(int(r.context))
						decodes++
						budget--
					}
					admittedKV = true
					continue
				}
				cached, pin := s.cachedPrefix(in, id) // prefix.go
				n := min(r.prompt-cached, int32(budget), int32(in.cfg.ChunkTokens))
				if !in.cfg.ChunkedPrefill && r.prompt-cached > int32(budget) {
					break
				}
				nb := blocksFor(n, bt)
				if nb+pin > s.freeBlocks(in) {
					break
				}
				if in.prefillFirst {
					if reserve < 0 {
						reserve = s.reservedTokens(in)
					}
					if !s.reserveAdmits(in, r, reserve, admittedTokens) {
						break
					}
					admittedTokens += float64(r.prompt) + float64(min(r.output-r.generated, sglClipNewTokens))
				}
				in.waiting.pop()
				s.devs[in.node].waiting--
				s.admitCached(in, id) // its cached prefix is its context (prefix.go)
				s.takeBlocks(in, nb)
				in.join(r, id)
				in.prefillLeft += clipLeft(r)
				if r.admitted < 0 {
					r.admitted = now
				}
				b.AddPrefill(int(n), int(cached))
				in.seg.prefill = append(in.seg.prefill, prefillChunk{id: id, n: n})
				budget -= int(n)
			}
		}
		if b.Tokens() == 0 && admittedKV {
			continue
		}
		if b.Tokens() == 0 && in.prefillFirst && decodes > 0 && !in.seg.decodes {
			decodeOnly = true
			continue
		}
		if b.Tokens() == 0 {
			if d := s.devs[in.node]; len(in.running) > 0 && (!d.node.DynamicMemory || len(d.busy) == 0) {
				// Every running request waits for KV blocks for its next
				// prefill chunk and no neighbour will free any (its pool is
				// its own, or nothing else runs): preempt to make room, as
				// vLLM does.
				s.preempt(in, now)
				continue
			}
			if len(in.running) == 0 {
				in.tokenRatio = sglInitRatio // SGLang re-inits it when idle
			}
			return // idle until something completes, frees blocks or arrives
		}
		if b.PrefillTokens > 0 || decodes == 0 {
			c := in.cost.Step(b)
			in.seg.run = decodeRun{c0: c.Compute, m0: c.Memory, o: c.Overhead, s: c.Serial, f0: c.FLOPs, b0: c.Bytes,
				dc0: c.DraftCompute, dm0: c.DraftMemory}
			in.seg.steps = 1
		} else {
			s.planDecodeRun(in, b)
		}
		s.devs[in.node].start(s, in, now)
		return
	}
}

// planDecodeRun sizes a decode-only run: until the first request finishes,
// or as far as free KV blocks reach, whichever is first.
func (s *simulator) planDecodeRun(in *instance, first perf.Batch) {
	// Requests part-way through their prefill (waiting for blocks for their
	// next chunk) take no part in a decode run.
	k := s.decodeLeft(in)
	var second perf.Batch
	s.addDecodes(in, &second, 1)
	// The first step's blocks are taken; reserve the rest of the run.
	free := s.freeBlocks(in)
	need := s.decodeGrowth(in, k) // blocks the steps after the first take
	if k > 1 && need > free {
		lo, hi := int32(1), k // decodeGrowth(lo) <= free < decodeGrowth(hi)
		need = 0              // decodeGrowth(1)
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if g := s.decodeGrowth(in, mid); g <= free {
				lo, need = mid, g
			} else {
				hi = mid
			}
		}
		k = lo
	}
	s.takeBlocks(in, need)
	in.seg.run = newDecodeRun(s.decodeSteps(in, first, second))
	in.seg.steps = int(k)
	in.seg.decode = true
}

// truncate cuts a running decode run short at the end of the step in
// progress, so a newly admissible request joins at the next step.
func (s *simulator) truncate(in *instance, now engine.Time) {
	seg := &in.seg
	done := seg.progress + (now-seg.updated).Seconds()/seg.slowdown
	// The step in progress finishes, and so does every step that starts
	// before the request has reached the engine (its admission lag).
	lag := s.devs[in.node].node.Profile.AdmissionLagS / seg.slowdown
	j := seg.run.stepsWithin(done+lag, seg.steps)
	if j >= seg.steps {
		return
	}
	release := s.decodeGrowth(in, int32(seg.steps)) - s.decodeGrowth(in, int32(j))
	d := s.devs[in.node]
	d.advance(now, s.insts)
	s.takeBlocks(in, -release)
	seg.steps = j
	seg.plan()
	d.reshare(s, now)
}

// midPrefill reports whether a running request is part-way through its
// prompt (its next chunk waits for a step that runs prompt chunks).
func (s *simulator) midPrefill(in *instance) bool {
	for _, id := range in.running {
		if !s.reqs[id].decoding() {
			return true
		}
	}
	return false
}
