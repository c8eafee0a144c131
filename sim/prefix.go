package sim

import "github.com/fleettwin/fleettwin/scenario"

// Prefix caching, as vLLM's automatic prefix caching does it (SGLang's
// radix cache behaves alike at block granularity). A full KV block is
// identified by a hash of the tokens up to and including it (hashOf), so
// equal hashes mean an equal prefix. An instance with the cache keeps each
// full block a request computed in a table by hash:
//
//   - As a request's prompt chunks finish, its full blocks enter the table
//     (referenced by it), so requests admitted later share them at once;
//     when it finishes or is preempted, every full block of its context
//     (prompt and answer) does.
//   - On admission a request looks up its prompt's blocks in order and
//     stops at the first miss; the hits (at most the prompt less one token,
//     since the last position must run to yield a token) are its context
//     at once: they take no prefill, attend as context in the first chunk,
//     and are referenced rather than copied.
//   - A block no running request references stays cached but free: the
//     scheduler counts it as free memory, and an allocation that finds no
//     uncached free block evicts the least recently freed one (a request's
//     blocks are freed last block first, so its tail goes before its
//     head, as vLLM's free queue does).
//
// The pool the cached blocks live in is the instance's own under static
// memory, and the device's under memory = "dynamic": there co-located
// instances evict each other's cached blocks, least recently freed first.
// The hit rate per model is the share of the prompt tokens of its first
// admissions that the cache served (prefix_cache_hit_rate).

// cacheEntry is a cached block: its hash, the instance whose table holds
// it, how many running requests reference it, and its place in its pool's
// free list (least recently freed first) while ref is 0.
type cacheEntry struct {
	hash       uint64
	inst       int32
	ref        int32
	prev, next int32
}

// kvPool is the memory cached blocks live in: one instance's, or a
// dynamic device's shared by its instances.
type kvPool struct {
	entries    []cacheEntry
	spare      []int32 // unused entries
	head, tail int32   // free list of unreferenced cached blocks, -1 if empty
	// cachedBytes is the memory the unreferenced cached blocks hold.
	cachedBytes float64
	// version changes with every change of a table or of the free list,
	// so a lookup's result is kept until the pool changes (reqPrefix.memo).
	version uint64
	dynamic bool
}

// prefixCache is an instance's table of cached blocks.
type prefixCache struct {
	pool   *kvPool
	blocks map[uint64]int32 // hash → entry
	// cached counts the instance's unreferenced cached blocks.
	cached int64
}

const noEntry = -1

func newKVPool(dynamic bool) *kvPool { return &kvPool{head: noEntry, tail: noEntry, dynamic: dynamic} }

// newEntry takes an entry for a block of instance in, referenced once.
func (p *kvPool) newEntry(hash uint64, in int32) int32 {
	e := cacheEntry{hash: hash, inst: in, ref: 1, prev: noEntry, next: noEntry}
	if n := len(p.spare); n > 0 {
		i := p.spare[n-1]
		p.spare = p.spare[:n-1]
		p.entries[i] = e
		return i
	}
	p.entries = append(p.entries, e)
	return int32(len(p.entries) - 1)
}

// push puts an unreferenced entry at the free list's tail (most recently freed).
func (p *kvPool) push(i int32) {
	e := &p.entries[i]
	e.prev, e.next = p.tail, noEntry
	if p.tail != noEntry {
		p.entries[p.tail].next = i
	} else {
		p.head = i
	}
	p.tail = i
}

// unlink takes an entry off the free list.
func (p *kvPool) unlink(i int32) {
	e := &p.entries[i]
	if e.prev != noEntry {
		p.entries[e.prev].next = e.next
	} else {
		p.head = e.next
	}
	if e.next != noEntry {
		p.entries[e.next].prev = e.prev
	} else {
		p.tail = e.prev
	}
	e.prev, e.next = noEntry, noEntry
}

// setupPrefixCaches gives each instance with prefix caching its table, and
// every instance whose memory holds cached blocks (those, and their
// neighbours on a dynamic pool) the pool they are evicted from.
func (s *simulator) setupPrefixCaches() {
	for _, d := range s.devs {
		var shared *kvPool
		for _, i := range d.insts {
			in := s.insts[i]
			if !in.cfg.PrefixCaching || in.role == scenario.RoleDecode {
				continue
			}
			pool := newKVPool(false)
			if d.node.DynamicMemory {
				if shared == nil {
					shared = newKVPool(true)
				}
				pool = shared
			}
			in.pc = &prefixCache{pool: pool, blocks: map[uint64]int32{}}
			in.pool = pool
		}
		if shared != nil {
			for _, i := range d.insts {
				s.insts[i].pool = shared
			}
		}
	}
}

// makeRoom evicts unreferenced cached blocks, least recently freed first,
// until n more blocks of instance in fit its memory beside what is held
// and cached. Called by takeBlocks before an allocation.
func (s *simulator) makeRoom(in *instance, n int64) {
	p := in.pool
	if p.dynamic {
		d := s.devs[in.node]
		need := float64(n) * in.blockKV
		for p.head != noEntry && d.kvUsed+p.cachedBytes+need > d.kvCapacity*(1+1e-12) {
			s.evict(p)
		}
		return
	}
	for p.head != noEntry && in.blocksUsed+in.pc.cached+n > in.blocksTotal {
		s.evict(p)
	}
}

// evict drops the least recently freed cached block of pool p.
func (s *simulator) evict(p *kvPool) {
	i := p.head
	p.unlink(i)
	e := p.entries[i]
	owner := s.insts[e.inst]
	delete(owner.pc.blocks, e.hash)
	owner.pc.cached--
	p.cachedBytes -= owner.blockKV
	p.spare = append(p.spare, i)
	p.version++
}

// pin references a cached block for a request; an unreferenced one leaves
// the free list and counts as held again.
func (s *simulator) pin(in *instance, i int32) {
	p := in.pc.pool
	e := &p.entries[i]
	if e.ref == 0 {
		p.unlink(i)
		in.pc.cached--
		p.cachedBytes -= in.blockKV
		s.holdBlocks(in, 1)
		p.version++
	}
	e.ref++
}

// unpin drops a request's reference to a cached block; the last one frees
// it to the tail of the free list, still cached.
func (s *simulator) unpin(in *instance, i int32) {
	p := in.pc.pool
	e := &p.entries[i]
	e.ref--
	if e.ref == 0 {
		p.push(i)
		in.pc.cached++
		p.cachedBytes += in.blockKV
		s.holdBlocks(in, -1)
		p.version++
	}
}

// holdBlocks changes the blocks held by requests without evicting: a
// cached block changing hands between held and free occupies the same
// memory either way.
func (s *simulator) holdBlocks(in *instance, n int64) {
	in.blocksUsed += n
	d := s.devs[in.node]
	d.kvUsed += float64(n) * in.blockKV
	d.kvPeak = max(d.kvPeak, d.kvUsed)
}

// lookup counts the leading blocks of request id's prompt that instance in
// has cached (at most the prompt less one token), and how many of them are
// unreferenced (pinning those takes free memory). A lookup is kept until
// the pool or the request's prompt (a preempted one's grows) changes.
func (s *simulator) lookup(in *instance, id int32) (hit int32, free int64) {
	x := &s.tr.px[id]
	p := in.pc.pool
	r := &s.reqs[id]
	if x.memoInst == int32(in.idx) && x.memoVersion == p.version && x.memoPrompt == r.prompt {
		return x.memoHit, x.memoFree
	}
	bt := int32(in.cfg.BlockTokens)
	limit := (r.prompt - 1) / bt
	for j := int32(0); j < limit; j++ {
		i, ok := in.pc.blocks[x.hashOf(j, bt)]
		if !ok {
			break
		}
		hit++
		if p.entries[i].ref == 0 {
			free++
		}
	}
	x.memoInst, x.memoVersion, x.memoPrompt, x.memoHit, x.memoFree = int32(in.idx), p.version, r.prompt, hit, free
	return hit, free
}

// cachedPrefix is what the cache serves of a waiting request's prompt on
// instance in: the tokens it skips, and the free blocks pinning them
// takes. Zero without a cache, or for a request part-way in (none waits so).
func (s *simulator) cachedPrefix(in *instance, id int32) (tokens int32, pinFree int64) {
	if in.pc == nil || s.reqs[id].prefilled > 0 {
		return 0, 0
	}
	hit, free := s.lookup(in, id)
	return hit * int32(in.cfg.BlockTokens), free
}

// admitCached starts an admitted request on its cached prefix: its hit
// blocks are referenced and count as prefilled context. It also counts
// the model's hit rate on first admissions.
func (s *simulator) admitCached(in *instance, id int32) int32 {
	if in.pc == nil {
		return 0
	}
	r := &s.reqs[id]
	hit, _ := s.lookup(in, id)
	x := &s.tr.px[id]
	bt := int32(in.cfg.BlockTokens)
	for j := int32(0); j < hit; j++ {
		i := in.pc.blocks[x.hashOf(j, bt)]
		s.pin(in, i)
		x.pins = append(x.pins, i)
	}
	tokens := hit * bt
	r.prefilled, r.context = tokens, tokens
	if r.admitted < 0 && r.counted {
		st := &s.tr.models[r.model]
		st.lookupTokens += int64(r.prompt)
		st.hitTokens += int64(tokens)
	}
	return tokens
}

// register enters a request's full blocks computed so far into the
// instance's table, referenced by it. A block someone else cached
// meanwhile is shared and the request's own copy goes back.
func (s *simulator) register(in *instance, id int32) {
	r := &s.reqs[id]
	x := &s.tr.px[id]
	bt := int32(in.cfg.BlockTokens)
	full := r.context / bt
	p := in.pc.pool
	for j := int32(len(x.pins)); j < full; j++ {
		h := x.hashOf(j, bt)
		if i, ok := in.pc.blocks[h]; ok {
			s.pin(in, i)
			s.holdBlocks(in, -1) // the request's copy
			x.pins = append(x.pins, i)
			continue
		}
		i := p.newEntry(h, int32(in.idx))
		in.pc.blocks[h] = i
		x.pins = append(x.pins, i)
		p.version++
	}
}

// releaseCached gives back a finishing or preempted request's blocks: its
// full blocks stay cached (freed last first), the rest are freed.
func (s *simulator) releaseCached(in *instance, id int32) {
	s.register(in, id)
	r := &s.reqs[id]
	x := &s.tr.px[id]
	own := blocksFor(r.context, int32(in.cfg.BlockTokens)) - int64(len(x.pins))
	s.takeBlocks(in, -own)
	for k := len(x.pins) - 1; k >= 0; k-- {
		s.unpin(in, x.pins[k])
	}
	x.pins = x.pins[:0]
}

// prefixResult adds a model's hit rate to its result, for a model served
// by at least one instance with the cache.
func (s *simulator) prefixResult(m *modelState, r *ModelResult) {
	if s.tr == nil || !s.tr.models[m.idx].cached {
		return
	}
	st := s.tr.models[m.idx]
	rate := 0.0
	if st.lookupTokens > 0 {
		rate = float64(st.hitTokens) / float64(st.lookupTokens)
	}
	r.PrefixCacheHitRate = &rate
}
