package workload

import "github.com/fleettwin/fleettwin/internal/tomlcheck"

// SharedPrefix is a system prompt shared by part of a model's traffic:
// Share of the requests start with one of Groups prompts of Tokens tokens
// (a request's group is drawn uniformly), which a prefix cache can serve.
type SharedPrefix struct {
	Groups int     `toml:"groups"`
	Tokens int     `toml:"tokens"`
	Share  float64 `toml:"share"`
}

// Sessions makes a model's requests conversations: each arrival opens a
// session of Turns turns, each turn sent ThinkS (mean, exponential) after
// the previous answer and carrying the whole context so far.
type Sessions struct {
	Turns  Lengths `toml:"turns"`
	ThinkS float64 `toml:"think_s"`
}

// Thinking is the share of a model's requests answered in thinking mode,
// with their own output length (reasoning tokens count as output).
type Thinking struct {
	Share  float64 `toml:"share"`
	Output Lengths `toml:"output"`
}

// Bounds on the shared-prefix and session fields: far beyond real traffic,
// they keep a run's work bounded (each session turn is a request, and the
// prefix cache indexes each group's blocks).
const (
	// MaxPrefixGroups bounds a workload's distinct system prompts.
	MaxPrefixGroups = 1_000_000
	// MaxTurns bounds the turns of one session.
	MaxTurns = 1000
)

// validateTraffic reports the problems of the prefix, sessions and
// thinking tables, each a *FieldError.
func (s Spec) validateTraffic() []error {
	var errs []error
	bad := func(kind tomlcheck.Kind, field, format string, args ...any) {
		errs = append(errs, fieldError(kind, field, format, args...))
	}
	if p := s.Prefix; p != nil {
		if p.Groups < 1 || p.Groups > MaxPrefixGroups {
			bad(tomlcheck.OutOfRange, "prefix.groups", "must be between 1 and %d, got %d", MaxPrefixGroups, p.Groups)
		}
		if p.Tokens < 1 || p.Tokens > MaxTokens {
			bad(tomlcheck.OutOfRange, "prefix.tokens", "must be between 1 and %d tokens, got %d", MaxTokens, p.Tokens)
		}
		if !(p.Share > 0 && p.Share <= 1) {
			bad(tomlcheck.OutOfRange, "prefix.share", "must be in (0, 1], got %v", p.Share)
		}
	}
	if ss := s.Sessions; ss != nil {
		if s.Arrival.Process == Trace {
			bad(tomlcheck.Invalid, "sessions", "not with process \"trace\": a trace states each request itself")
		}
		errs = append(errs, ss.Turns.validateCount("sessions.turns", MaxTurns)...)
		if !(ss.ThinkS >= 0 && ss.ThinkS <= MaxThinkS) {
			bad(tomlcheck.OutOfRange, "sessions.think_s", "must be between 0 and %d s, got %v", MaxThinkS, ss.ThinkS)
		}
	}
	if th := s.Thinking; th != nil {
		if s.Arrival.Process == Trace {
			bad(tomlcheck.Invalid, "thinking", "not with process \"trace\": a trace states each request's output")
		}
		if !(th.Share > 0 && th.Share <= 1) {
			bad(tomlcheck.OutOfRange, "thinking.share", "must be in (0, 1], got %v", th.Share)
		}
		errs = append(errs, th.Output.validateCount("thinking.output", MaxTokens)...)
	}
	return errs
}

// validateCount checks a distribution that is not read from a file (turns,
// thinking output) and whose fixed value or bounds stay within hi.
func (l Lengths) validateCount(field string, hi int) []error {
	if l.Dist == Empirical {
		return []error{fieldError(tomlcheck.Invalid, field+".dist", "empirical is not offered here; valid: %s", Join(Dists[:len(Dists)-1]))}
	}
	errs := l.validate(field)
	if l.Dist == Fixed && l.Value > hi {
		errs = append(errs, fieldError(tomlcheck.OutOfRange, field+".value", "must be at most %d, got %d", hi, l.Value))
	}
	if l.Max > hi {
		errs = append(errs, fieldError(tomlcheck.OutOfRange, field+".max", "must be at most %d, got %d", hi, l.Max))
	}
	return errs
}
