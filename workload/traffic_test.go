package workload

import (
	"errors"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// TestValidateTraffic: each problem of the prefix, sessions and thinking
// tables is a FieldError naming its field, with a kind; good tables pass.
func TestValidateTraffic(t *testing.T) {
	base := func() Spec {
		return Spec{Arrival: Arrival{Process: Poisson, Rate: 1}, Input: Lengths{Dist: Fixed, Value: 100}, Output: Lengths{Dist: Fixed, Value: 10},
			Prefix:   &SharedPrefix{Groups: 2, Tokens: 512, Share: 0.5},
			Sessions: &Sessions{Turns: Lengths{Dist: Uniform, Min: 1, Max: 4}, ThinkS: 10},
			Thinking: &Thinking{Share: 0.3, Output: Lengths{Dist: Lognormal, Mean: 1500, Stddev: 900}}}
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("good spec: %v", err)
	}
	for _, tt := range []struct {
		name  string
		edit  func(*Spec)
		field string
		kind  tomlcheck.Kind
	}{
		{"groups", func(s *Spec) { s.Prefix.Groups = MaxPrefixGroups + 1 }, "prefix.groups", tomlcheck.OutOfRange},
		{"tokens", func(s *Spec) { s.Prefix.Tokens = 0 }, "prefix.tokens", tomlcheck.OutOfRange},
		{"share", func(s *Spec) { s.Prefix.Share = 0 }, "prefix.share", tomlcheck.OutOfRange},
		{"sessions on a trace", func(s *Spec) { s.Arrival = Arrival{Process: Trace, Trace: "t.csv"}; s.Thinking = nil }, "sessions", tomlcheck.Invalid},
		{"thinking on a trace", func(s *Spec) { s.Arrival = Arrival{Process: Trace, Trace: "t.csv"}; s.Sessions = nil }, "thinking", tomlcheck.Invalid},
		{"turns fixed", func(s *Spec) { s.Sessions.Turns = Lengths{Dist: Fixed, Value: MaxTurns + 1} }, "sessions.turns.value", tomlcheck.OutOfRange},
		{"turns dist", func(s *Spec) { s.Sessions.Turns = Lengths{Dist: "zipf"} }, "sessions.turns.dist", tomlcheck.Invalid},
		{"turns empirical", func(s *Spec) { s.Sessions.Turns = Lengths{Dist: Empirical, File: "t.csv"} }, "sessions.turns.dist", tomlcheck.Invalid},
		{"think time", func(s *Spec) { s.Sessions.ThinkS = MaxThinkS + 1 }, "sessions.think_s", tomlcheck.OutOfRange},
		{"thinking share", func(s *Spec) { s.Thinking.Share = 1.01 }, "thinking.share", tomlcheck.OutOfRange},
		{"thinking output", func(s *Spec) { s.Thinking.Output = Lengths{Dist: Uniform} }, "thinking.output.max", tomlcheck.Missing},
	} {
		s := base()
		tt.edit(&s)
		err := s.Validate()
		var found bool
		for _, e := range unjoin(err) {
			var fe *FieldError
			if errors.As(e, &fe) && fe.Field == tt.field && fe.Kind == tt.kind {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %v; want a %v error on %s", tt.name, err, tt.kind, tt.field)
		}
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
