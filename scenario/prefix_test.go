package scenario

import (
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// chat is Qwen3-8B on two H100 groups with a shared system prompt,
// sessions and thinking.
const chat = `name = "chat"
seed = 1
duration_s = 300
warmup_s = 30
router = "prefix-affinity"

[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 2
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 256
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 64
[models.qwen3-8b.workload.prefix]
groups = 4
tokens = 2048
share = 0.8
[models.qwen3-8b.workload.sessions]
think_s = 30
[models.qwen3-8b.workload.sessions.turns]
dist = "uniform"
min = 1
max = 6
[models.qwen3-8b.workload.thinking]
share = 0.5
[models.qwen3-8b.workload.thinking.output]
dist = "lognormal"
mean = 1500
stddev = 1000

[[nodes]]
name = "a"
hardware = "h100-sxm"
engine = "vllm"
count = 1
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"

[[nodes]]
name = "b"
hardware = "h100-sxm"
engine = "vllm"
count = 1
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"
`

// TestPrefixCachingSwitch: on by default where the traffic shares a
// prefix, off where it shares nothing; a group's switch, and an
// instance's over its group's.
func TestPrefixCachingSwitch(t *testing.T) {
	plain := edit(t, chat, "[models.qwen3-8b.workload.prefix]\ngroups = 4\ntokens = 2048\nshare = 0.8\n", "",
		"[models.qwen3-8b.workload.sessions]\nthink_s = 30\n[models.qwen3-8b.workload.sessions.turns]\ndist = \"uniform\"\nmin = 1\nmax = 6\n", "")
	for _, tt := range []struct {
		name string
		src  string
		want [2]bool
	}{
		{"shared by default", chat, [2]bool{true, true}},
		{"nothing shared", plain, [2]bool{false, false}},
		{"group off", edit(t, chat, "name = \"a\"\n", "name = \"a\"\nprefix_caching = false\n"), [2]bool{false, true}},
		{"group on", edit(t, plain, "name = \"b\"\n", "name = \"b\"\nprefix_caching = true\n"), [2]bool{false, true}},
		{"instance over group", edit(t, chat, "name = \"a\"\n", "name = \"a\"\nprefix_caching = false\n",
			"  quant = \"fp8\"\n\n[[nodes]]", "  quant = \"fp8\"\n  prefix_caching = true\n\n[[nodes]]"), [2]bool{true, true}},
	} {
		sc, err := Parse("t.toml", []byte(tt.src), cat, profiles, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := [2]bool{sc.Nodes[0].Instances[0].PrefixCaching, sc.Nodes[1].Instances[0].PrefixCaching}
		if got != tt.want {
			t.Errorf("%s: prefix caching %v, want %v", tt.name, got, tt.want)
		}
	}
	sc, err := Parse("t.toml", []byte(chat), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := sc.Models[0].Router; r != PrefixAffinity {
		t.Errorf("router %q", r)
	}
}

// TestTrafficErrors: every new field's problem names its line and field,
// with a kind.
func TestTrafficErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		edits []string
		kind  tomlcheck.Kind
		want  string
	}{
		{"no groups", []string{"groups = 4", "groups = 0"}, tomlcheck.OutOfRange,
			"t.toml:17: models.qwen3-8b.workload.prefix.groups: must be between 1 and 1000000, got 0"},
		{"prefix too long", []string{"tokens = 2048", "tokens = 2000000"}, tomlcheck.OutOfRange,
			"t.toml:18: models.qwen3-8b.workload.prefix.tokens: must be between 1 and 1048576 tokens, got 2000000"},
		{"prefix share", []string{"share = 0.8", "share = 1.5"}, tomlcheck.OutOfRange,
			"t.toml:19: models.qwen3-8b.workload.prefix.share: must be in (0, 1], got 1.5"},
		{"think time", []string{"think_s = 30", "think_s = -1"}, tomlcheck.OutOfRange,
			"t.toml:21: models.qwen3-8b.workload.sessions.think_s: must be between 0 and 86400 s, got -1"},
		{"too many turns", []string{"max = 6", "max = 5000"}, tomlcheck.OutOfRange,
			"models.qwen3-8b.workload.sessions.turns.max: must be at most 1000, got 5000"},
		{"empirical turns", []string{"dist = \"uniform\"", "dist = \"empirical\""}, tomlcheck.Invalid,
			"models.qwen3-8b.workload.sessions.turns.dist: empirical is not offered here"},
		{"thinking share", []string{"share = 0.5", "share = 0"}, tomlcheck.OutOfRange,
			"t.toml:27: models.qwen3-8b.workload.thinking.share: must be in (0, 1], got 0"},
		{"thinking output", []string{"mean = 1500", "mean = -3"}, tomlcheck.OutOfRange,
			"models.qwen3-8b.workload.thinking.output.mean: lognormal needs mean > 0 and stddev > 0"},
		{"unknown router", []string{`router = "prefix-affinity"`, `router = "prefix"`}, tomlcheck.Invalid,
			`router: unknown router "prefix"; valid: round-robin, least-outstanding, power-of-two, prefix-affinity`},
		{"too much work", []string{"rate = 2", "rate = 1e5", "max = 6", "max = 1000"}, tomlcheck.OutOfRange,
			"models.qwen3-8b.workload.sessions.turns: sessions of this many turns at this rate ask for about 1.5e+10 requests"},
		{"caching not a switch", []string{"name = \"a\"\n", "name = \"a\"\nprefix_caching = 1\n"}, tomlcheck.Syntax,
			"t.toml:35: nodes.prefix_caching: incompatible types"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(edit(t, chat, tt.edits...)), cat, profiles, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !tomlcheck.Has(err, tt.kind) {
				t.Errorf("error %v\nwant %q of kind %v", err, tt.want, tt.kind)
			}
		})
	}
}
