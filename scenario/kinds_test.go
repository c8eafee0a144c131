package scenario

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// TestErrorKinds checks that each problem carries the kind a caller acts
// on (the planner treats NoFit as an infeasible placement), not only its
// message.
func TestErrorKinds(t *testing.T) {
	instance := "  [[nodes.instances]]\n  model = \"qwen3-8b\"\n  quant = \"q4_k_m\"\n"
	tests := []struct {
		name     string
		old, new string
		field    string
		kind     tomlcheck.Kind
	}{
		{"does not fit (static)", `quant = "q4_k_m"`, "quant = \"bf16\"\n  memory_fraction = 0.1", "nodes[0].instances[0].memory_fraction", tomlcheck.NoFit},
		{"shares overflow", `quant = "q4_k_m"`, "quant = \"q4_k_m\"\n  memory_fraction = 0.6\n" + instance + "  memory_fraction = 0.6", "nodes[0].instances", tomlcheck.NoFit},
		{"share out of range", `quant = "q4_k_m"`, "quant = \"q4_k_m\"\n  memory_fraction = 2", "nodes[0].instances[0].memory_fraction", tomlcheck.NoFit},
		{"share under dynamic sharing", "count = 2\n\n" + instance, "count = 2\nmemory = \"dynamic\"\n\n" + instance + "  memory_fraction = 0.5", "nodes[0].instances[0].memory_fraction", tomlcheck.NoFit},
		{"group fraction out of range", `count = 2`, "count = 2\nmemory_fraction = 1.5", "nodes[0].memory_fraction", tomlcheck.NoFit},
		{"too many instances", instance, strings.Repeat(instance, MaxInstancesPerNode+1), "nodes[0].instances", tomlcheck.NoFit},
		{"no instances", instance, "", "nodes[0].instances", tomlcheck.NoFit},
		{"unknown hardware", `hardware = "dgx-spark"`, `hardware = "dgx-sprak"`, "nodes[0].hardware", tomlcheck.NotFound},
		{"no profile", `engine = "llama.cpp"`, `engine = "sglang"`, "nodes[0].engine", tomlcheck.NotFound},
		{"unknown quant", `quant = "q4_k_m"`, `quant = "q3"`, "nodes[0].instances[0].quant", tomlcheck.NotFound},
		{"unknown kv cache", `quant = "q4_k_m"`, "quant = \"q4_k_m\"\n  kv_cache = \"fp2\"", "nodes[0].instances[0].kv_cache", tomlcheck.NotFound},
		{"unknown model", `[models.qwen3-8b.slo]`, "[models.qwen3-7b]\n[models.qwen3-8b.slo]", "models.qwen3-7b.model", tomlcheck.NotFound},
		{"unserved model", `model = "qwen3-8b"`, `model = "qwen3-14b"`, "nodes[0].instances[0].model", tomlcheck.NotFound},
		{"SLO class", `ttft_s = 2.0`, "ttft_s = 2.0\nclasses.batch.ttft_s = 9.0", "models.qwen3-8b.slo.classes.batch", tomlcheck.NotFound},
		{"trace file", "process = \"poisson\"\nrate = 1.0", "process = \"trace\"\ntrace = \"missing.csv\"", "models.qwen3-8b.workload.arrival.trace", tomlcheck.NotFound},
		{"trace missing", "process = \"poisson\"\nrate = 1.0", `process = "trace"`, "models.qwen3-8b.workload.arrival.trace", tomlcheck.Missing},
		{"group name", `name = "spark"`, ``, "nodes[0].name", tomlcheck.Missing},
		{"cloud price", `warmup_s = 60`, "warmup_s = 60\n[cost]\npricing = \"cloud\"", "nodes[0].cloud_usd_per_hour", tomlcheck.Missing},
		{"bad count", `count = 2`, `count = 0`, "nodes[0].count", tomlcheck.OutOfRange},
		{"bad rate", `rate = 1.0`, `rate = -1.0`, "models.qwen3-8b.workload.arrival.rate", tomlcheck.OutOfRange},
		{"bad site", `warmup_s = 60`, "warmup_s = 60\n[site]\npue = 0.5", "site.pue", tomlcheck.OutOfRange},
		{"too long", `duration_s = 600`, `duration_s = 1e9`, "duration_s", tomlcheck.OutOfRange},
		{"unknown key", `seed = 1`, "seed = 1\nsead = 2", "sead", tomlcheck.Unknown},
		{"bad router", `warmup_s = 60`, "warmup_s = 60\nrouter = \"random\"", "router", tomlcheck.Invalid},
		{"bad pricing", `warmup_s = 60`, "warmup_s = 60\n[cost]\npricing = \"lease\"", "cost.pricing", tomlcheck.Invalid},
		{"bad memory sharing", `count = 2`, "count = 2\nmemory = \"shared\"", "nodes[0].memory", tomlcheck.Invalid},
		{"bad process", `process = "poisson"`, `process = "bursty"`, "models.qwen3-8b.workload.arrival.process", tomlcheck.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("base has no %q", tt.old)
			}
			src := strings.Replace(base, tt.old, tt.new, 1)
			_, err := Parse("t.toml", []byte(src), cat, profiles, fstest.MapFS{})
			e := findField(t, err, tt.field)
			if e.Kind != tt.kind {
				t.Errorf("%s: kind %v, want %v", e, e.Kind, tt.kind)
			}
			if !tomlcheck.Has(err, tt.kind) {
				t.Errorf("tomlcheck.Has(err, %v) = false for\n%v", tt.kind, err)
			}
			checkMemoryFields(t, err)
		})
	}
}

// TestResolveNoFit is the planner's case: a candidate built in code whose
// models do not fit fails with kind NoFit, whatever the field is called.
func TestResolveNoFit(t *testing.T) {
	f, _, err := Decode("t.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	f.Nodes[0].Instances[0].Quant = "bf16"
	f.Nodes[0].Instances[0].MemoryFraction = 0.1
	_, err = Resolve("candidate", f, cat, profiles, nil)
	if !tomlcheck.Has(err, tomlcheck.NoFit) {
		t.Fatalf("Resolve: %v, want a NoFit error", err)
	}
	if e := findField(t, err, "nodes[0].instances[0].memory_fraction"); e.Line != 0 {
		t.Errorf("%s: a document built in code has no lines", e)
	}
	f.Nodes[0].Instances[0].Quant, f.Nodes[0].Instances[0].MemoryFraction = "q4_k_m", 0
	if _, err := Resolve("candidate", f, cat, profiles, nil); err != nil {
		t.Fatalf("Resolve of the base scenario: %v", err)
	}
}

// findField returns the problem of err at field, failing the test if
// there is none.
func findField(t *testing.T, err error, field string) *tomlcheck.Error {
	t.Helper()
	var l tomlcheck.ErrorList
	if !errors.As(err, &l) {
		t.Fatalf("error %v (%T), want a tomlcheck.ErrorList", err, err)
	}
	for _, e := range l {
		if e.Field == field {
			return e
		}
	}
	t.Fatalf("no problem at %s in\n%v", field, err)
	return nil
}

// checkMemoryFields holds the planner's old reading to the new one: every
// problem on an instances or memory_fraction field is NoFit.
func checkMemoryFields(t *testing.T, err error) {
	t.Helper()
	var l tomlcheck.ErrorList
	errors.As(err, &l)
	for _, e := range l {
		if (strings.HasSuffix(e.Field, ".memory_fraction") || strings.HasSuffix(e.Field, ".instances")) && e.Kind != tomlcheck.NoFit {
			t.Errorf("%s: kind %v, want NoFit", e, e.Kind)
		}
	}
}

// TestDefaultsAreValid keeps the defaults among the values the checks
// accept, since each list is the only place a value is made valid.
func TestDefaultsAreValid(t *testing.T) {
	if !DefaultRouter.Valid() {
		t.Errorf("DefaultRouter %q is not one of %v", DefaultRouter, Routers)
	}
	if !Pricing(DefaultCost.Pricing).Valid() {
		t.Errorf("DefaultCost.Pricing %q is not one of %v", DefaultCost.Pricing, Pricings)
	}
	if !MemoryStatic.Valid() || !MemoryDynamic.Valid() || MemorySharing("shared").Valid() {
		t.Errorf("MemorySharings = %v", MemorySharings)
	}
}
