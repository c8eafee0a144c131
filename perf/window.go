package perf

// setWindow takes the model's sliding window: gpt-oss attends over the
// last 128 tokens on every other layer.
func (s *StepModel) setWindow() {
	m := s.inst.Model
	s.window, s.windowShare = 0, 0
	if m.Windowed() {
		s.window, s.windowShare = float64(m.SlidingWindow), m.WindowedLayerShare()
	}
}

// attended returns the step's attention sums (attended positions, their
// squares, cached tokens read) averaged over the layers, for the terms
// priced per layer: the batch's own sums on full-attention layers, and on
// sliding-window layers at most the window for each token (positions,
// squares) and for each sequence (cached tokens read, plus the chunk's own
// tokens for a prefill). The bound is exact once every sequence of the step
// is past the window, an upper bound by less than the window per token of
// the sequences that are not (the batch keeps sums, not each sequence's
// context). A model without a window gets the batch's sums unchanged.
func (s *StepModel) attended(b Batch) (pairs, squares, kvRead float64) {
	if s.windowShare == 0 {
		return b.AttendedPairs, b.AttendedSquares, b.KVTokensRead
	}
	w, tokens := s.window, float64(b.Tokens())
	wPairs := fmin(b.AttendedPairs, w*tokens)
	wSquares := fmin(b.AttendedSquares, w*w*tokens)
	wRead := fmin(b.KVTokensRead, w*float64(b.Seqs())+float64(b.PrefillTokens))
	f, g := 1-s.windowShare, s.windowShare
	return f*b.AttendedPairs + g*wPairs, f*b.AttendedSquares + g*wSquares, f*b.KVTokensRead + g*wRead
}

// workloadMemory is the memory plan of a workload: MemoryPlan of its
// tokens, with a windowed model's KV as its sequences keep it
// (catalog.Model.KVBytes: at most the window on windowed layers). An
// instance over several devices or with a drafter keeps MemoryPlan's
// every-layer count, an upper bound.
func (s *StepModel) workloadMemory(w Workload) MemoryPlan {
	tokens := w.Depth + w.Input + w.Output
	m := s.MemoryPlan(w.Batch * tokens)
	if s.windowShare == 0 || s.par != nil || s.spec != nil {
		return m
	}
	m.KVBytesNeeded = float64(w.Batch) * s.inst.Model.KVBytes(s.inst.KV, tokens)
	m.Fits = m.WeightBytes+m.KVBytesNeeded <= m.BudgetBytes
	return m
}
