package planner

import (
	"strings"
	"testing"
)

// TestBoundsCountThinkingOutput: a thinking share draws its output from
// its own lengths, and the load bound must count those: with every request
// in thinking mode at 16 output tokens, the bound is that of a plain
// 16-token workload, not of the 64-token answers it replaces (which
// would overstate the load and could prune the cheapest fleet).
func TestBoundsCountThinkingOutput(t *testing.T) {
	const rate = 400
	plain := harnessPlan(rate, 1000, 1, `"q8_0"`, "64")
	short := strings.Replace(plain, "value = 64", "value = 16", 1)
	thinking := plain + `
[models.qwen3-8b.workload.thinking]
share = 1.0

[models.qwen3-8b.workload.thinking.output]
dist = "fixed"
value = 16
`
	bound := func(src string) Bounds {
		t.Helper()
		h := newHarness(t, src, falling(1))
		_, b := h.onlyGroup()
		return b
	}
	long, want, got := bound(plain), bound(short), bound(thinking)
	if long.MinNodes <= want.MinNodes {
		t.Fatalf("64-token answers need %d nodes, 16-token ones %d: the plan does not tell them apart", long.MinNodes, want.MinNodes)
	}
	if got.MinNodes != want.MinNodes {
		t.Errorf("thinking at 16 tokens: %d nodes at least, want %d (plain 16-token output; 64-token answers give %d)", got.MinNodes, want.MinNodes, long.MinNodes)
	}
}
