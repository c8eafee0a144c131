package workload

import (
	"errors"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// TestValidateKinds checks each problem carries its kind and field, so a
// reader locates and classifies it without parsing the message.
func TestValidateKinds(t *testing.T) {
	fixed := Lengths{Dist: Fixed, Value: 10}
	for _, c := range []struct {
		name  string
		spec  Spec
		field string
		kind  tomlcheck.Kind
		msg   string
	}{
		{"unknown process", Spec{Arrival: Arrival{Process: "burst"}, Input: fixed, Output: fixed},
			"arrival.process", tomlcheck.Invalid, `unknown process "burst"; valid: poisson, gamma, closed, trace`},
		{"unknown dist", Spec{Arrival: Arrival{Process: Poisson, Rate: 1}, Input: Lengths{Dist: "zipf"}, Output: fixed},
			"input.dist", tomlcheck.Invalid, `unknown distribution "zipf"; valid: fixed, uniform, lognormal, exponential, empirical`},
		{"rate", Spec{Arrival: Arrival{Process: Gamma, Rate: -1, CV: 1}, Input: fixed, Output: fixed},
			"arrival.rate", tomlcheck.OutOfRange, `must be positive for process "gamma", got -1`},
		{"trace file", Spec{Arrival: Arrival{Process: Trace}, Input: fixed, Output: fixed},
			"arrival.trace", tomlcheck.Missing, `required for process "trace"`},
		{"empirical file", Spec{Arrival: Arrival{Process: Poisson, Rate: 1}, Input: fixed, Output: Lengths{Dist: Empirical}},
			"output.file", tomlcheck.Missing, `required for dist "empirical"`},
		{"share", Spec{Arrival: Arrival{Process: Closed, Concurrency: 1}, Input: fixed, Output: fixed, Classes: []Class{{Name: "a", Share: 2}}},
			"classes.0.share", tomlcheck.OutOfRange, "must be in (0, 1], got 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.spec.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *FieldError", err)
			}
			if fe.Field != c.field || fe.Kind != c.kind || fe.Msg != c.msg {
				t.Errorf("got %s %v %q, want %s %v %q", fe.Field, fe.Kind, fe.Msg, c.field, c.kind, c.msg)
			}
			if want := c.field + ": " + c.msg; !strings.Contains(err.Error(), want) {
				t.Errorf("Validate() = %q, want it to contain %q", err, want)
			}
		})
	}
}

func TestChoicesValid(t *testing.T) {
	for _, p := range Processes {
		if !p.Valid() {
			t.Errorf("%q is listed but not valid", p)
		}
	}
	for _, d := range Dists {
		if !d.Valid() {
			t.Errorf("%q is listed but not valid", d)
		}
	}
	if Process("").Valid() || Dist("").Valid() {
		t.Error("the empty choice is valid")
	}
	if got := Join(Processes); got != "poisson, gamma, closed, trace" {
		t.Errorf("Join(Processes) = %q", got)
	}
}
