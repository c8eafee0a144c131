package planner

import (
	"errors"
	"fmt"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// The planner reads "the models do not fit" from the error's kind, not
// from the field it names, wherever in a wrapped list it sits.
func TestIsMemoryError(t *testing.T) {
	noFit := &tomlcheck.Error{File: "g", Field: "nodes.g.instances", Kind: tomlcheck.NoFit, Msg: "weights exceed"}
	other := &tomlcheck.Error{File: "g", Field: "nodes.g.instances", Kind: tomlcheck.Invalid, Msg: "unknown model"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("models.x.instances: too large"), false},
		{"no fit", tomlcheck.ErrorList{noFit}, true},
		{"among others", tomlcheck.ErrorList{other, noFit}, true},
		{"wrapped", fmt.Errorf("resolve: %w", tomlcheck.ErrorList{noFit}), true},
		{"same field, other kind", tomlcheck.ErrorList{other}, false},
	} {
		if got := isMemoryError(tc.err); got != tc.want {
			t.Errorf("%s: isMemoryError = %v, want %v", tc.name, got, tc.want)
		}
	}
}
