package report

import (
	"testing"

	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/scenario"
)

// Describe names the layout and the speculative decoding where a
// configuration has them, and nothing new where it does not.
func TestDescribeLayout(t *testing.T) {
	groups := func(ms ...[]string) []planner.GroupOutcome {
		var out []planner.GroupOutcome
		for _, m := range ms {
			out = append(out, planner.GroupOutcome{Models: m, Metrics: &planner.Metrics{Nodes: 1}})
		}
		return out
	}
	draft := &scenario.Speculative{Method: "draft", DraftModel: "qwen3-0.6b", ProposalTokens: 4, AcceptanceRate: 0.7}
	for _, tc := range []struct {
		name string
		o    planner.Outcome
		want string
	}{
		{"device", planner.Outcome{Candidate: planner.Candidate{Settings: planner.Settings{Hardware: "h100-sxm", Engine: "vllm", Quant: "fp8", Memory: scenario.MemoryStatic}},
			Groups: groups([]string{"a", "b"})}, "h100-sxm · vllm · fp8 · 1× [a+b]"},
		{"board", planner.Outcome{Candidate: planner.Candidate{Settings: planner.Settings{Hardware: "hgx-h100-8", Engine: "vllm", Quant: "fp8", Memory: scenario.MemoryStatic, TP: 2, PP: 2, EP: 1},
			DP: []int{2, 1}}, Groups: groups([]string{"a"}, []string{"b"})}, "hgx-h100-8 · vllm · fp8 · 1× [a] dp 2 | 1× [b] · tp 2 pp 2"},
		{"speculative", planner.Outcome{Candidate: planner.Candidate{Settings: planner.Settings{Hardware: "h100-sxm", Engine: "vllm", Quant: "fp8", Memory: scenario.MemoryStatic, Speculative: draft}},
			Groups: groups([]string{"a"})}, "h100-sxm · vllm · fp8 · 1× [a] · speculative draft-qwen3-0.6b-k4-a0.7"},
		{"disaggregated", planner.Outcome{Candidate: planner.Candidate{Settings: planner.Settings{Hardware: "h100-sxm", Engine: "vllm", Quant: "fp8", Memory: scenario.MemoryStatic, Disaggregated: true}},
			Groups: []planner.GroupOutcome{{Models: []string{"a"}, Metrics: &planner.Metrics{Nodes: 3}, Pools: &planner.Pools{PrefillShare: 0.3, PrefillNodes: 1, DecodeNodes: 2}}}},
			"h100-sxm · vllm · fp8 · 3× [a] · disaggregated: a prefill 1 + decode 2 nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Describe(tc.o); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
