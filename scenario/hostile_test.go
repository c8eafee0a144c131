package scenario

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/workload"
)

// The values an adversarial review of issue 11 sent through the dashboard
// and the CLI: each once reached arithmetic that panicked, overflowed or
// exhausted memory. Each must now be an error naming its line and field.
func TestParseRejectsHostileNumbers(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           string
	}{
		{"duration inf", `duration_s = 600`, `duration_s = inf`, "t.toml:3: duration_s: must be a finite number"},
		{"duration nan", `duration_s = 600`, `duration_s = nan`, "t.toml:3: duration_s: must be a finite number"},
		{"duration 1e12", `duration_s = 600`, `duration_s = 1e12`, "t.toml:3: duration_s: must be at most 2678400 s"},
		{"warmup nan", `warmup_s = 60`, `warmup_s = nan`, "t.toml:4: warmup_s: must be a finite number"},
		{"series nan", `warmup_s = 60`, "warmup_s = 60\nseries_resolution_s = nan", "t.toml:5: series_resolution_s: must be a finite number"},
		{"series 1e-9", `warmup_s = 60`, "warmup_s = 60\nseries_resolution_s = 1e-9", "t.toml:5: series_resolution_s: must be at least duration_s / 100000"},
		{"count 100000", `count = 2`, `count = 100000`, "t.toml:25: nodes[0].count: the scenario's node groups may hold at most 10000 nodes"},
		{"rate 1e9", `rate = 1.0`, `rate = 1e9`, "t.toml:11: models.qwen3-8b.workload.arrival.rate: must be at most 1e+06"},
		{"rate × duration", `rate = 1.0`, `rate = 500000.0`, "t.toml:11: models.qwen3-8b.workload.arrival.rate: rate × duration_s asks for about 3e+08 requests"},
		{"rate inf", `rate = 1.0`, `rate = inf`, "t.toml:11: models.qwen3-8b.workload.arrival.rate: must be a finite number"},
		{"uniform max 2^32+4", "dist = \"fixed\"\nvalue = 512", "dist = \"uniform\"\nmin = 1\nmax = 4294967300", "t.toml:16: models.qwen3-8b.workload.input.max: must be at most 1048576 tokens"},
		{"fixed value 2^31", `value = 512`, `value = 2147483648`, "models.qwen3-8b.workload.input.value: must be between 1 and 1048576 tokens"},
		{"lognormal mean 1e300", "dist = \"fixed\"\nvalue = 512", "dist = \"lognormal\"\nmean = 1e300\nstddev = 1.0", "models.qwen3-8b.workload.input.mean: lognormal mean and stddev must be at most"},
		{"max_seqs huge", `quant = "q4_k_m"`, "quant = \"q4_k_m\"\n  max_seqs = 100000000", "nodes[0].instances[0].max_seqs: must be at most 65536"},
		{"block_tokens huge", `quant = "q4_k_m"`, "quant = \"q4_k_m\"\n  block_tokens = 1000000", "nodes[0].instances[0].block_tokens: must be at most 4096"},
		{"ttft 1e300", `ttft_s = 2.0`, `ttft_s = 1e300`, "t.toml:7: models.qwen3-8b.slo.ttft_s: must be at most 86400"},
		{"interference inf", `count = 2`, "count = 2\ninterference = inf", "t.toml:26: nodes[0].interference: must be a finite number"},
		{"price 1e300", `count = 2`, "count = 2\nprice_usd = 1e300", "t.toml:26: nodes[0].price_usd: must be at most"},
		{"instances × count", `count = 2`, "count = 5000\n" + strings.Repeat("  [[nodes.instances]]\n  model = \"qwen3-8b\"\n  quant = \"q4_k_m\"\n", 4), "t.toml:25: nodes[0].count: the scenario's nodes may run at most 20000 model instances together, got 25000"},
		{"too many instances", `[[nodes.instances]]`, strings.Repeat("[[nodes.instances]]\nmodel = \"qwen3-8b\"\nquant = \"q4_k_m\"\n", 65) + "[[nodes.instances]]", "nodes[0].instances: a node may run at most 64 model instances"},
		{"nested inline tables", `warmup_s = 60`, "warmup_s = 60\nx = " + strings.Repeat("{a = ", 10000) + "1" + strings.Repeat("}", 10000), "t.toml:5: arrays and inline tables nest deeper than 32 levels"},
		{"40 KB dotted key", `warmup_s = 60`, "warmup_s = 60\n" + strings.Repeat("a.", 20000) + "a = 1", "t.toml:5: a dotted key has more than 32 parts"},
		{"4 MB of [", `warmup_s = 60`, "warmup_s = 60\n" + strings.Repeat("[", 4<<20), "file is 4194"},
		{"1 MB of [", `warmup_s = 60`, "warmup_s = 60\n" + strings.Repeat("[", 1<<19), "t.toml:5: a table header opens with more than two '['"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("base has no %q", tt.old)
			}
			src := strings.Replace(base, tt.old, tt.new, 1)
			start := time.Now()
			_, err := Parse("t.toml", []byte(src), cat, profiles, nil)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%v\ndoes not contain %q", err, tt.want)
			}
			// Before the guard these took 30 s, all memory, or the stack;
			// a linear pass takes milliseconds, so 5 s only catches a
			// regression to super-linear work, even on a busy CI core.
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Parse took %v", d)
			}
		})
	}
}

// A scenario built in code (the what-if form, the planner) gets the same
// checks as one read from a file.
func TestResolveRejectsNonFinite(t *testing.T) {
	f, _, err := Decode("t.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	f.DurationS = 1.0 / zero()
	f.Nodes[0].Count = 1 << 30
	_, err = Resolve("what-if", f, cat, profiles, nil)
	for _, want := range []string{"duration_s: must be a finite number", "nodes[0].count: the scenario's node groups may hold at most 10000 nodes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve error %v, want %q", err, want)
		}
	}
}

func zero() float64 { return 0 }

// perf cannot import workload (the step model knows no traffic), so its
// length bound is its own constant; it must stay the scenario's.
func TestTokenBoundsAgree(t *testing.T) {
	if perf.MaxTokens != workload.MaxTokens {
		t.Errorf("perf.MaxTokens %d, workload.MaxTokens %d", perf.MaxTokens, workload.MaxTokens)
	}
}

// BenchmarkParseWorstCase parses the costliest shapes the guard accepts, a
// 1 MiB file each: what a hostile upload can make one parse cost.
// go test -run '^$' -bench ParseWorstCase ./scenario
func BenchmarkParseWorstCase(b *testing.B) {
	fill := func(line func(i int) string) []byte {
		var s strings.Builder
		s.WriteString(base)
		for i := 0; ; i++ {
			l := line(i)
			if s.Len()+len(l) > tomlcheck.MaxBytes {
				return []byte(s.String())
			}
			s.WriteString(l)
		}
	}
	for _, c := range []struct {
		name string
		line func(i int) string
	}{
		{"inline-tables-31-deep", func(i int) string {
			return fmt.Sprintf("x%d = %s1%s\n", i, strings.Repeat("{a = ", 31), strings.Repeat("}", 31))
		}},
		{"keys-32-parts", func(i int) string { return strings.Repeat(fmt.Sprintf("k%d.", i), 31) + "z = 1\n" }},
	} {
		src := fill(c.line)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, err := Parse("t.toml", src, cat, profiles, nil); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}
