package perf

import (
	"os"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// TestParseProfileKinds checks each problem of a profile carries its kind,
// so a caller tests the kind rather than the message.
func TestParseProfileKinds(t *testing.T) {
	good, err := os.ReadFile("../profiles/dgx-spark.llama.cpp.toml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(good)
	for _, tt := range []struct {
		name, old, new string
		kind           tomlcheck.Kind
	}{
		{"unknown field", "[coefficients]", "[coefficients]\nturbo = true", tomlcheck.Unknown},
		{"missing", "prefill_chunk = 2048\n", "", tomlcheck.Missing},
		{"unknown engine", `engine = "llama.cpp"`, `engine = "llamacpp"`, tomlcheck.NotFound},
		{"efficiency above 1", "weight_bandwidth_eff = ", "weight_bandwidth_eff = 1.5 #", tomlcheck.OutOfRange},
		{"huge interference", "[coefficients]", "interference = 1e9\n[coefficients]", tomlcheck.OutOfRange},
		{"not a number", "prefill_chunk = 2048", `prefill_chunk = "big"`, tomlcheck.Syntax},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(src, tt.old) {
				t.Fatalf("profile has no %q", tt.old)
			}
			_, err := ParseProfile("p.toml", []byte(strings.Replace(src, tt.old, tt.new, 1)))
			if !tomlcheck.Has(err, tt.kind) {
				t.Errorf("ParseProfile: %v, want a problem of kind %v", err, tt.kind)
			}
		})
	}
}
