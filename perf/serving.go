package perf

import (
	"math"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// Serving is what a real server adds around the GPU steps of the step-time
// model: the [serving] table of a profile. Every term is optional and 0 is
// none, so a table of zeros (or no table) models the GPU steps alone.
//
// A request first passes the front end (the OpenAI-compatible API server:
// HTTP, chat template, tokenization), one request at a time at
// FrontendRPS, then RequestS later reaches the engine's waiting queue; the
// engine steps as the step-time model says plus StepS + StepPerSeqS × the
// sequences of the step (the scheduler, input preparation, sampling and
// output processing on the CPU, which in vLLM, SGLang and TensorRT-LLM's
// PyTorch flow run between GPU steps).
type Serving struct {
	// RequestS is each request's front-end latency before it reaches the
	// engine, beyond its turn at the front end (seconds): HTTP parsing,
	// the chat template, tokenization, the hand-off to the engine
	// process, and the first token's way back. It lands in TTFT and E2E.
	RequestS float64 `toml:"request_s"`
	// FrontendRPS is how many requests per second the front end admits
	// (one API-server process is one CPU-bound event loop); requests
	// arriving faster queue in arrival order. 0 is unbounded.
	FrontendRPS float64 `toml:"frontend_rps"`
	// StepS is the engine's CPU time per step, on top of the GPU step
	// (seconds): scheduling, launching and the step's bookkeeping.
	StepS float64 `toml:"step_s"`
	// StepPerSeqS is the engine's CPU time per sequence per step
	// (seconds): building its inputs, sampling, detokenizing and sending
	// its token back, all linear in the running batch.
	StepPerSeqS float64 `toml:"step_per_seq_s"`
	// Policy is the engine's rule for mixing prefill with decode: "" or
	// PolicyMixed (decodes first, then prompt chunks in the token budget:
	// vLLM V1, TensorRT-LLM in-flight batching) or PolicyPrefillFirst
	// (a step holding prompt chunks runs no decodes: SGLang without
	// --enable-mixed-chunk).
	Policy string `toml:"policy,omitempty"`
}

// The prefill/decode mixing rules of Serving.Policy.
const (
	PolicyMixed        = "mixed"
	PolicyPrefillFirst = "prefill-first"
)

// Policies are the valid values of Serving.Policy ("" is PolicyMixed).
var Policies = []string{PolicyMixed, PolicyPrefillFirst}

// Bounds on the serving terms: no front end takes a minute per request or
// admits more than a million a second, and no scheduler takes a second per
// sequence.
const (
	maxFrontendRPS = 1e6
	maxStepPerSeqS = 1
)

// FrontendService is the seconds each request holds the front end
// (1/FrontendRPS), or 0 when it is unbounded or s is nil.
func (s *Serving) FrontendService() float64 {
	if s == nil || s.FrontendRPS <= 0 {
		return 0
	}
	return 1 / s.FrontendRPS
}

// StepCPU is the engine's CPU seconds for a step of seqs sequences; 0 when
// s is nil.
func (s *Serving) StepCPU(seqs int) float64 {
	if s == nil {
		return 0
	}
	return s.StepS + s.StepPerSeqS*float64(seqs)
}

// PrefillFirst reports whether steps with prompt chunks leave decodes out.
func (s *Serving) PrefillFirst() bool { return s != nil && s.Policy == PolicyPrefillFirst }

// IsZero reports whether the table adds nothing (nil, or every term 0
// and the default policy).
func (s *Serving) IsZero() bool {
	return s == nil || (*s == Serving{} || *s == Serving{Policy: PolicyMixed})
}

// check reports the serving terms' problems into errs.
func (s *Serving) check(errs *tomlcheck.Errors) {
	for _, t := range []struct {
		name  string
		v, hi float64
	}{
		{"request_s", s.RequestS, maxOverhead},
		{"frontend_rps", s.FrontendRPS, maxFrontendRPS},
		{"step_s", s.StepS, maxOverhead},
		{"step_per_seq_s", s.StepPerSeqS, maxStepPerSeqS},
	} {
		if math.IsNaN(t.v) || t.v < 0 || t.v > t.hi {
			errs.AddKind(tomlcheck.OutOfRange, []string{"serving", t.name}, "must be in [0, %g], got %v", t.hi, t.v)
		}
	}
	if s.Policy != "" && s.Policy != PolicyMixed && s.Policy != PolicyPrefillFirst {
		errs.AddKind(tomlcheck.NotFound, []string{"serving", "policy"}, "unknown policy %q; valid: %s, %s", s.Policy, PolicyMixed, PolicyPrefillFirst)
	}
}
