package scenario

import (
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
)

// withSpec gives h100Base's first instance (Qwen3-8B, bf16) a
// [speculative] table of the given lines.
func withSpec(lines ...string) []string {
	return []string{mig8b, mig8b + "\n  [nodes.instances.speculative]\n  " + strings.Join(lines, "\n  ")}
}

// TestSpeculativeErrors: each bad [speculative] table is reported at its
// field, nodes[i].instances[j].speculative.<field>, with its kind and what
// is valid.
func TestSpeculativeErrors(t *testing.T) {
	const k = "nodes[0].instances[0].speculative."
	draft := func(extra ...string) []string {
		return withSpec(append([]string{`method = "draft"`, `draft_model = "qwen3-0.6b"`, "proposal_tokens = 4", "acceptance_rate = 0.7"}, extra...)...)
	}
	tests := []struct {
		name  string
		edits []string
		field string
		kind  tomlcheck.Kind
		want  string
	}{
		{"unknown method", withSpec(`method = "medusa"`, "proposal_tokens = 4", "acceptance_rate = 0.7"), k + "method", tomlcheck.NotFound,
			`unknown speculative method "medusa"; valid: draft, eagle, mtp`},
		{"draft without a model", withSpec(`method = "draft"`, "proposal_tokens = 4", "acceptance_rate = 0.7"), k + "draft_model", tomlcheck.Missing,
			`method "draft" needs a draft model from the catalog`},
		{"unknown draft model", withSpec(`method = "draft"`, `draft_model = "qwen3-0.5b"`, "proposal_tokens = 4", "acceptance_rate = 0.7"),
			k + "draft_model", tomlcheck.NotFound, "qwen3-0.5b"},
		{"draft of another vocabulary", withSpec(`method = "draft"`, `draft_model = "qwen2.5-7b"`, "proposal_tokens = 4", "acceptance_rate = 0.7"),
			k + "draft_model", tomlcheck.Invalid, "qwen2.5-7b has a vocabulary of 152064 tokens, qwen3-8b of 151936"},
		{"unknown draft quant", draft(`draft_quant = "fp7"`), k + "draft_quant", tomlcheck.NotFound, "fp7"},
		{"heads with a draft model", withSpec(`method = "eagle"`, `draft_model = "qwen3-0.6b"`, "proposal_tokens = 4", "acceptance_rate = 0.7"),
			k + "draft_model", tomlcheck.Invalid, `only with method "draft"`},
		{"no proposal", withSpec(`method = "eagle"`, "acceptance_rate = 0.7"), k + "proposal_tokens", tomlcheck.OutOfRange,
			"must be in [1, 16] tokens drafted per step, got 0"},
		{"long proposal", withSpec(`method = "mtp"`, "proposal_tokens = 17", "acceptance_rate = 0.7"), k + "proposal_tokens", tomlcheck.OutOfRange,
			"got 17"},
		{"certain acceptance", withSpec(`method = "eagle"`, "proposal_tokens = 4", "acceptance_rate = 1.0"), k + "acceptance_rate", tomlcheck.OutOfRange,
			"must be in [0, 1)"},
		{"negative acceptance", withSpec(`method = "eagle"`, "proposal_tokens = 4", "acceptance_rate = -0.1"), k + "acceptance_rate", tomlcheck.OutOfRange,
			"got -0.1"},
		{"unknown key", draft("turbo = true"), "nodes.instances.speculative.turbo", tomlcheck.Unknown, "unknown field"},
		{"draft over the memory", []string{mig32b, mig32b + "\n  [nodes.instances.speculative]\n  method = \"draft\"\n  draft_model = \"qwen3-14b\"\n  draft_quant = \"bf16\"\n  proposal_tokens = 4\n  acceptance_rate = 0.7"},
			"nodes[0].instances[1].memory_fraction", tomlcheck.NoFit, "weights (58.02 GiB) and one KV block do not fit"}, // the 32B's 30.51 and the 14B draft's 27.51,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(edit(t, h100Base, tt.edits...)), cat, profiles, nil)
			e := findField(t, err, tt.field)
			if e.Kind != tt.kind {
				t.Errorf("%s: kind %v, want %v", e, e.Kind, tt.kind)
			}
			if !strings.Contains(e.Error(), tt.want) {
				t.Errorf("error\n%s\ndoes not contain\n%s", e, tt.want)
			}
			checkMemoryFields(t, err)
		})
	}
}

// TestSpeculativeResolved: the table is carried onto the instance's
// deployment, and the drafter's weights and KV cache count in its memory.
func TestSpeculativeResolved(t *testing.T) {
	plain, err := Parse("t.toml", []byte(h100Base), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := plain.Nodes[0].Instances[0]
	if p.Deploy.Speculative != nil {
		t.Fatalf("no table, yet speculative %+v", p.Deploy.Speculative)
	}
	draft, _ := cat.Model("qwen3-0.6b")
	for _, tc := range []struct {
		name         string
		lines        []string
		weights, kvs float64 // the drafter's bytes: weights, KV per token
		draftQuant   string
	}{
		{"draft", []string{`method = "draft"`, `draft_model = "qwen3-0.6b"`, "proposal_tokens = 4", "acceptance_rate = 0.7"},
			float64(draft.WeightParams()) * 2, draft.KVBytesPerToken(p.Deploy.KV), "bf16"},
		{"draft in fp8", []string{`method = "draft"`, `draft_model = "qwen3-0.6b"`, `draft_quant = "fp8"`, "proposal_tokens = 4", "acceptance_rate = 0.7"},
			float64(draft.WeightParams()), draft.KVBytesPerToken(p.Deploy.KV), "fp8"},
		{"eagle", []string{`method = "eagle"`, "proposal_tokens = 3", "acceptance_rate = 0.6"},
			float64(p.Deploy.Model.DenseLayerParams()+p.Deploy.Model.LMHeadParams()) * 2, p.Deploy.Model.KVBytesPerToken(p.Deploy.KV) / 36, ""},
	} {
		sc, err := Parse("t.toml", []byte(edit(t, h100Base, withSpec(tc.lines...)...)), cat, profiles, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		in := sc.Nodes[0].Instances[0]
		sp := in.Deploy.Speculative
		if sp == nil || sp.ProposalTokens == 0 || sp.AcceptanceRate == 0 {
			t.Fatalf("%s: speculative %+v", tc.name, sp)
		}
		if tc.draftQuant != "" && (sp.Method != perf.SpecDraft || sp.Draft.Model.Name != "qwen3-0.6b" || sp.Draft.Weights.Name != tc.draftQuant || sp.Draft.KV != p.Deploy.KV) {
			t.Errorf("%s: draft %+v", tc.name, sp.Draft)
		}
		if got := in.WeightBytes - p.WeightBytes; got != tc.weights {
			t.Errorf("%s: the drafter adds %.4g bytes of weights, want %.4g", tc.name, got, tc.weights)
		}
		if got, want := in.KVBlockBytes(), p.KVBlockBytes()+float64(in.BlockTokens)*tc.kvs; got != want {
			t.Errorf("%s: KV block %.6g bytes, want %.6g", tc.name, got, want)
		}
		if sc.Nodes[0].Instances[1].Deploy.Speculative != nil {
			t.Errorf("%s: the other instance took the table", tc.name)
		}
	}
}
