package sim

import "fmt"

// SGLang's admission rule (python/sglang/srt/managers/schedule_policy.py,
// PrefillAdder), for instances whose profile sets policy = "prefill-first":
// a waiting request joins only while the KV pool, less what the running
// requests are still expected to generate, holds its whole prompt and
// output. Each running request is charged its remaining output (clipped at
// 4096 tokens) times new_token_ratio; each request admitted in the same
// step is charged its prompt plus its remaining output in full. The ratio
// starts at 0.7, falls by (0.7 - 0.098) / 600 with every decode step to
// 0.098, goes back to 0.7 when the instance is idle, and after a
// retraction (a preemption) is re-estimated from the requests still
// running: (tokens generated + 20 per request) / (output tokens + 1), at
// most 1. Without the rule a prefill-first instance whose pool is full
// admits a prompt, preempts it at the next decode step for the decodes'
// blocks, admits it again, and so on: a burst of long prompts thrashes.
const (
	sglInitRatio     = 0.7
	sglMinRatio      = sglInitRatio * 0.14
	sglRatioDecay    = (sglInitRatio - sglMinRatio) / 600
	sglRetractSteps  = 20
	sglClipNewTokens = 4096
)

// reservedTokens is the KV room, in tokens, that the running requests'
// expected output holds back from admission: the same integer sum as a
// walk of the running requests, kept as they come and go (prefillLeft)
// and on the decode clock (outputLeft).
func (s *simulator) reservedTokens(in *instance) float64 {
	n := in.prefillLeft + in.dec.outputLeft()
	if checkReserve {
		if w := s.reservedWalk(in); w != n {
			panic(fmt.Sprintf("sim: SGLang reserve %d, a walk of the running requests %d", n, w))
		}
	}
	return float64(n) * in.tokenRatio
}

// checkReserve makes reservedTokens check its sums against a walk (tests).
var checkReserve = false

// reservedWalk is Σ min(output - generated, clip) by a walk of the running
// requests, which it brings up to date with the clock.
func (s *simulator) reservedWalk(in *instance) int64 {
	var n int64
	for _, id := range in.running {
		r := &s.reqs[id]
		if r.decoding() {
			in.dec.sync(r)
		}
		n += clipLeft(r)
	}
	return n
}

// clipLeft is the output r has still to generate, clipped as SGLang's
// reserve clips it.
func clipLeft(r *request) int64 { return int64(min(r.output-r.generated, sglClipNewTokens)) }

// reserveAdmits reports whether r may join under SGLang's rule, given the
// running requests' reserve and what this step has admitted already. With
// nothing running (and nothing admitted) it always may: the request fits
// an empty instance, or it was rejected at arrival.
func (s *simulator) reserveAdmits(in *instance, r *request, reserve, admitted float64) bool {
	if len(in.running) == 0 {
		return true
	}
	bt := int64(in.cfg.BlockTokens)
	room := float64(s.freeBlocks(in)*bt) - reserve - admitted
	need := float64(r.prompt) + float64(min(r.output-r.generated, sglClipNewTokens)) + float64(bt)
	return need < room
}

// retractRatio re-estimates new_token_ratio after a preemption from the
// requests still running, as SGLang's retract_decode does.
func (s *simulator) retractRatio(in *instance) {
	var gen, out int64
	for _, id := range in.running {
		r := &s.reqs[id]
		if r.decoding() {
			in.dec.sync(r)
		}
		gen += int64(r.generated)
		out += int64(r.output)
	}
	in.tokenRatio = min(1, float64(gen+sglRetractSteps*int64(len(in.running)))/float64(out+1))
}
