package perf

// StepPair is Step(first) and Step(second) for two batches of the same
// token and sequence counts that differ only in their contexts: a decode
// run's first two steps (sim/run_cost.go), priced at every segment the
// simulator plans. The terms the counts set are computed once, the
// context terms twice; the costs are bit for bit the two calls'. Batches
// of different counts, and instances over several devices or with
// speculative decoding, take the two calls.
func (s *StepModel) StepPair(first, second Batch) (StepCost, StepCost) {
	if s.par != nil || s.spec != nil || first.Tokens() == 0 || first.PrefillTokens != second.PrefillTokens ||
		first.PrefillSeqs != second.PrefillSeqs || first.DecodeSeqs != second.DecodeSeqs {
		return s.Step(first), s.Step(second)
	}
	var t [numTerms]float64
	countFLOPs, attnFLOPs, countBytes, kvBytes := s.termParts(&t, first)
	a := combine(&t, &s.coef, s.serial)
	a.FLOPs, a.Bytes = countFLOPs+attnFLOPs, countBytes+kvBytes
	attnFLOPs, kvBytes = s.contextTerms(&t, second)
	b := combine(&t, &s.coef, s.serial)
	b.FLOPs, b.Bytes = countFLOPs+attnFLOPs, countBytes+kvBytes
	return a, b
}
