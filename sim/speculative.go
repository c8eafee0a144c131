package sim

import "github.com/fleettwin/fleettwin/perf"

// Speculative decoding in the simulator. A speculative instance's step
// model prices a decode-only step as one round (perf/speculative.go): the
// drafter's steps, the verification of every sequence's drafted tokens and
// the round's fixed cost, yielding E tokens per sequence in expectation.
// The simulator keeps its one-token steps and takes the fluid expectation:
// a decode run's step is 1/E of a round (every cost of the round divided by
// E), so each sequence advances one token per step and a run of k steps
// costs k/E rounds, in closed form as before. No randomness is drawn: the
// same scenario gives the same bytes, and an instance without speculative
// decoding takes none of these paths (every golden file is unchanged).
//
// Steps holding prompt chunks stay whole steps of one token per decode
// (the drafter prefills the chunks; see perf.StepModel.Step).

// specTokens is the tokens a decode round yields per sequence of the
// instance: E under speculative decoding, else 1.
func specTokens(in *instance) float64 {
	if sp := in.cfg.Deploy.Speculative; sp != nil {
		return sp.ExpectedTokens()
	}
	return 1
}

// decodeSteps is the cost of a decode-only run's first and second steps:
// the step model's, or under speculative decoding its round's cost per
// token; by one StepPair where the step model has it
// (perf.StepModel.StepPair: the same bits as two Steps, for less).
func (s *simulator) decodeSteps(in *instance, first, second perf.Batch) (perf.StepCost, perf.StepCost) {
	var a, b perf.StepCost
	if in.steps != nil {
		// servingCost.StepPair without its two calls' copies of the costs.
		a, b = in.steps.StepPair(first, second)
		if sv := in.stepCPU; sv != nil {
			a.Overhead += sv.StepCPU(first.PrefillSeqs + first.DecodeSeqs)
			b.Overhead += sv.StepCPU(second.PrefillSeqs + second.DecodeSeqs)
		}
	} else {
		a, b = pairOf(in.cost, in.pair, first, second)
	}
	if e := specTokens(in); e != 1 {
		a, b = perToken(a, e), perToken(b, e)
	}
	return a, b
}

// pairCoster is a StepCoster that prices two batches of the same counts
// at once (*perf.StepModel).
type pairCoster interface {
	StepPair(first, second perf.Batch) (perf.StepCost, perf.StepCost)
}

// pairOf is c's Step of both batches, by pair (c as a pairCoster, found
// once when the instance is built; nil where c is none) where it has one.
func pairOf(c StepCoster, pair pairCoster, first, second perf.Batch) (perf.StepCost, perf.StepCost) {
	if pair != nil {
		return pair.StepPair(first, second)
	}
	return c.Step(first), c.Step(second)
}

// unwrap takes a step cost apart into its step model and the scheduler's
// CPU time it adds (nil for none), or returns nil where it is no step model.
func unwrap(c StepCoster) (*perf.StepModel, *perf.Serving) {
	switch c := c.(type) {
	case *perf.StepModel:
		return c, nil
	case *servingCost:
		if m, ok := c.StepCoster.(*perf.StepModel); ok {
			return m, c.sv
		}
	}
	return nil, nil
}

// perToken is a round's cost divided among the e tokens it yields.
func perToken(c perf.StepCost, e float64) perf.StepCost {
	c.Seconds /= e
	c.Compute /= e
	c.Memory /= e
	c.Overhead /= e
	c.DraftCompute /= e
	c.DraftMemory /= e
	c.FLOPs /= e
	c.Bytes /= e
	return c
}

// chunkGaps is a finished segment's inter-token latencies as a client sees
// them, for the ITL sketch: the gap and how many gaps have it. A decode
// run without speculation streams one token per step, a gap of its mean
// step time per token; with speculative decoding a round streams its E
// accepted tokens as one chunk, so the gap is a round's time (E steps) and
// there are 1/E as many (vllm bench serve's ITL is per streamed chunk).
func chunkGaps(in *instance, seg *segment, wall float64, decodes int) (gap, weight float64) {
	steps := float64(seg.steps)
	gap, weight = wall/steps, float64(decodes)*steps
	if e := specTokens(in); e != 1 && seg.decode {
		gap, weight = gap*e, weight/e
	}
	return gap, weight
}
