package sim

// The prefix-affinity router (scenario.PrefixAffinity), after SGLang's
// cache-aware router and llm-d's prefix scorer: among the model's
// instances whose outstanding requests are within a slack of the least
// loaded one's (the larger of affinitySlack and a quarter of that load),
// it picks the one whose cache holds the most of the request's prompt,
// fewer outstanding breaking ties; where none holds any, the least
// outstanding (ties rotate, as least-outstanding's). It reads the
// instances' own tables, as a router fed by the engines' KV events does,
// so what it knows is exact. The slack keeps a popular prefix from piling
// onto one instance while others idle.

// affinitySlack is the fewest extra outstanding requests an instance may
// have over the least loaded one and still win on its cache.
const affinitySlack = 4

// pickAffinity applies the prefix-affinity router to request id over the
// instances ids, with the rotation rr.
func (s *simulator) pickAffinity(ids []int, rr *int, id int32) int {
	least := s.insts[ids[0]].outstanding
	for _, i := range ids[1:] {
		least = min(least, s.insts[i].outstanding)
	}
	slack := max(affinitySlack, least/4)
	*rr = (*rr + 1) % len(ids)
	best, bestHit := -1, int32(0)
	lightest := -1
	for k := range ids {
		i := ids[(*rr+k)%len(ids)]
		in := s.insts[i]
		if lightest < 0 || in.outstanding < s.insts[lightest].outstanding {
			lightest = i
		}
		if in.pc == nil || in.outstanding > least+slack {
			continue
		}
		hit, _ := s.lookup(in, id)
		hit *= int32(in.cfg.BlockTokens)
		if hit > bestHit || hit == bestHit && hit > 0 && in.outstanding < s.insts[best].outstanding {
			best, bestHit = i, hit
		}
	}
	if best < 0 {
		return lightest
	}
	return best
}
