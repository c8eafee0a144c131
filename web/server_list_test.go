package web

import (
	"slices"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/scenarios"
)

// The shipped list holds the scenarios, default first, and not the
// traces/ folder embedded beside them.
func TestShippedNames(t *testing.T) {
	names := NewServer().names
	if len(names) == 0 || names[0] != scenarios.Default {
		t.Fatalf("names %v: want %s first", names, scenarios.Default)
	}
	for _, n := range names {
		if !strings.HasSuffix(n, ".toml") {
			t.Errorf("listed %q, not a scenario", n)
		}
	}
	if !slices.Contains(names, "trace-mooncake.toml") {
		t.Errorf("names %v lack trace-mooncake.toml", names)
	}
}
