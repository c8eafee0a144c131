package planner

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// disaggPlan is a one-model plan of Qwen3-8B at FP8 under vLLM with
// disaggregation searched, on the hardware given; its traffic is in the
// lengths (mean prompt, mean answer), rate and TPOT target. Short windows
// keep each search well under a second.
func disaggPlan(t *testing.T, hardware string, maxNodes int, prompt, answer, rate, tpotS float64, extra string) *Plan {
	t.Helper()
	src := fmt.Sprintf(`name = "disagg"
seed = 3
window_s = 120
warmup_s = 30
max_cost_ratio = 0

[models.qwen3-8b.slo]
ttft_s = 3.0
tpot_s = %g
percentile = 95
attainment = 0.9

[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = %g

[models.qwen3-8b.workload.input]
dist = "lognormal"
mean = %g
stddev = %g
min = 16
max = 32768

[models.qwen3-8b.workload.output]
dist = "lognormal"
mean = %g
stddev = %g
min = 2
max = 2048

[search]
hardware = [%q]
engines = ["vllm"]
quants = ["fp8"]
disaggregation = [false, true]
max_nodes = %d
%s`, tpotS, rate, prompt, prompt/2, answer, answer/2, hardware, maxNodes, extra)
	cat, profs := env(t)
	p, err := Parse("disagg.toml", []byte(src), cat, profs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Long prompts, short answers and a tight TPOT (retrieval-augmented chat,
// as scenarios/disagg-h100.toml): co-located, every 8k prompt's prefill
// lands in the decode batches and the TPOT tail is prefill time, so the
// co-located fleet needs more devices than one that decodes apart. The
// winner is disaggregated, on the boards (pools inside the node, KV over
// NVLink) and on single H100s (pools on different nodes, KV over RDMA);
// with short prompts and long answers there is little prefill to move
// out and the decode pool carries what all did, so co-located wins.
func TestDisaggregationInThePlan(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		hardware               string
		maxNodes               int
		prompt, answer, rate   float64
		tpotS                  float64
		wantDisagg, wantInNode bool
	}{
		{"long prompts on the board", "hgx-h100-8", 4, 8192, 64, 18, 0.02, true, true},
		{"long prompts on H100s", "h100-sxm", 16, 8192, 64, 18, 0.02, true, false},
		{"short prompts on H100s", "h100-sxm", 16, 256, 512, 20, 0.03, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := searchAndFinish(t, disaggPlan(t, tc.hardware, tc.maxNodes, tc.prompt, tc.answer, tc.rate, tc.tpotS, ""))
			if r.Winner == nil {
				t.Fatalf("no winner; rejected: %+v", r.Rejected)
			}
			// The cheapest of each kind, from the ranked list (cheapest first).
			best := map[bool]*Outcome{}
			for i, o := range r.Ranked {
				if best[o.Disaggregated] == nil {
					best[o.Disaggregated] = &r.Ranked[i]
				}
			}
			w := r.Winner
			if w.Disaggregated != tc.wantDisagg {
				t.Fatalf("winner #%d %s: disaggregated %v, want %v", w.Index, w.Key, w.Disaggregated, tc.wantDisagg)
			}
			co, dis := best[false], best[true]
			if co == nil || dis == nil {
				// Each kind has a feasible configuration here; a
				// rejection would say why.
				t.Fatalf("cheapest co-located %v, disaggregated %v; rejected: %+v", co, dis, r.Rejected)
			}
			win, lose := dis, co
			if !tc.wantDisagg {
				win, lose = co, dis
			}
			if !(win.Metrics.Nodes < lose.Metrics.Nodes && win.Metrics.USDPerHour < lose.Metrics.USDPerHour) {
				t.Errorf("winner %d nodes $%.3f/h, the other kind %d nodes $%.3f/h: want fewer and cheaper", win.Metrics.Nodes, win.Metrics.USDPerHour, lose.Metrics.Nodes, lose.Metrics.USDPerHour)
			}
			pl := dis.Groups[0].Pools
			if pl == nil {
				t.Fatalf("disaggregated #%d has no pools", dis.Index)
			}
			if tc.wantInNode {
				if pl.PrefillDP < 1 || pl.DecodeDP < 1 || pl.PrefillDP+pl.DecodeDP != dis.DP[0] || pl.PrefillNodes != 0 {
					t.Errorf("pools %+v with dp %v: want the node's replicas split", pl, dis.DP)
				}
			} else if pl.PrefillNodes < 1 || pl.DecodeNodes < 1 || pl.PrefillNodes+pl.DecodeNodes != dis.Metrics.Nodes || pl.PrefillDP != 0 {
				t.Errorf("pools %+v on %d nodes: want the nodes split", pl, dis.Metrics.Nodes)
			}
			// Long prompts want more prefill than decode; short ones less.
			if pre := pl.PrefillDP + pl.PrefillNodes; (pre > pl.DecodeDP+pl.DecodeNodes) != (tc.prompt > tc.answer) {
				t.Errorf("pools %+v for %g-token prompts and %g-token answers", pl, tc.prompt, tc.answer)
			}
			if co.Groups[0].Pools != nil {
				t.Errorf("co-located #%d has pools %+v", co.Index, co.Groups[0].Pools)
			}
			t.Logf("co-located #%d: %d nodes $%.0f/month TPOT p95 %.1f ms; disaggregated #%d: %d nodes $%.0f/month TPOT p95 %.1f ms, pools %+v",
				co.Index, co.Metrics.Nodes, co.Metrics.USDPerMonth, 1000*co.Metrics.WorstTPOTP95, dis.Index, dis.Metrics.Nodes, dis.Metrics.USDPerMonth, 1000*dis.Metrics.WorstTPOTP95, *pl)
		})
	}
}

// The pools split so that the busier is the least loaded.
func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		n                int
		share            float64
		prefill, decoder int
	}{
		{2, 0.9, 1, 1}, {8, 0.82, 6, 2}, {8, 0.75, 6, 2}, {8, 0.5, 4, 4}, {4, 0.19, 1, 3}, {3, 0.01, 1, 2}, {10, 0.99, 9, 1},
	} {
		p, d := split(tc.n, tc.share)
		if p != tc.prefill || d != tc.decoder {
			t.Errorf("split(%d, %g) = %d + %d, want %d + %d", tc.n, tc.share, p, d, tc.prefill, tc.decoder)
		}
	}
}

// Disaggregation is enumerated beside each candidate, once per prefill
// share, and only where a role can have its device to itself; a plan
// without the key enumerates what it did.
func TestCandidatesDisaggregation(t *testing.T) {
	p := seed10x(t, "disaggregation = [false, true]\n", "disaggregation = [false, true]\nprefill_share = [0.5, 0.75]\n",
		`quants = ["q4_k_m", "fp8", "bf16"]`, `quants = ["fp8"]`, "max_seqs = [8, 32]", "max_seqs = [8]", "tp = [1, 2, 4, 8]", "tp = [1, 8]",
		`engines = ["llama.cpp", "vllm"]`, `engines = ["vllm"]`, `hardware = ["dgx-spark", "h100-sxm", "hgx-h100-8"]`, `hardware = ["h100-sxm", "hgx-h100-8"]`)
	var got []string
	keys := map[string]bool{}
	for _, c := range p.Candidates() {
		s := c.Hardware + " " + c.Layout()
		if c.TP > 0 {
			s += fmt.Sprintf(" tp%d", c.TP)
		}
		if c.Disaggregated {
			s += fmt.Sprintf(" p%g", c.PrefillShare)
			if !strings.HasSuffix(c.Settings.key(), fmt.Sprintf("/disagg-p%g", c.PrefillShare)) {
				t.Errorf("#%d key %s: want it to name the share", c.Index, c.Key())
			}
		}
		if keys[c.Key()] {
			t.Errorf("key %s twice", c.Key())
		}
		keys[c.Key()] = true
		got = append(got, s)
	}
	want := []string{
		// one H100 running both models: no role can have the device to itself
		"h100-sxm qwen3-14b+qwen3-8b",
		"h100-sxm qwen3-14b | qwen3-8b", "h100-sxm qwen3-14b | qwen3-8b p0.5", "h100-sxm qwen3-14b | qwen3-8b p0.75",
		"hgx-h100-8 qwen3-14b+qwen3-8b tp1", "hgx-h100-8 qwen3-14b+qwen3-8b tp1 p0.5", "hgx-h100-8 qwen3-14b+qwen3-8b tp1 p0.75",
		"hgx-h100-8 qwen3-14b | qwen3-8b tp1", "hgx-h100-8 qwen3-14b | qwen3-8b tp1 p0.5", "hgx-h100-8 qwen3-14b | qwen3-8b tp1 p0.75",
		"hgx-h100-8 qwen3-14b | qwen3-8b tp8", "hgx-h100-8 qwen3-14b | qwen3-8b tp8 p0.5", "hgx-h100-8 qwen3-14b | qwen3-8b tp8 p0.75",
	}
	if !slices.Equal(got, want) {
		t.Errorf("candidates\n%q\nwant\n%q", got, want)
	}
	// TP8 fills the board with one replica: its pools are whole boards.
	for _, c := range p.Candidates() {
		for _, g := range c.groups() {
			if g.Disaggregated && g.inNode() == (g.DP < 2) {
				t.Errorf("#%d group %v dp %d: in node %v", c.Index, g.Models, g.DP, g.inNode())
			}
			if g.Disaggregated && !g.inNode() && g.minNodes() != 2 {
				t.Errorf("#%d group %v: pools across nodes need two", c.Index, g.Models)
			}
		}
	}
	// Without the key: no disaggregated candidate, keys as before.
	for _, c := range load(t, "testdata/small.toml").Candidates() {
		if c.Disaggregated || strings.Contains(c.Key(), "/disagg") {
			t.Errorf("#%d %s: a plan without disaggregation gained it", c.Index, c.Key())
		}
	}
}

// Every configuration turned down says why, in words that name the cause:
// the memory or the resolver's field, the SLO missed (TTFT, TPOT, E2E or
// the attainment with its targets), the cost or the dominating one; the
// disaggregated and speculative candidates included.
func TestRejectionsSayWhy(t *testing.T) {
	spec := "\n[[search.speculative]]\nmethod = \"off\"\n\n[[search.speculative]]\nmethod = \"draft\"\ndraft_model = \"qwen3-0.6b\"\nproposal_tokens = 4\nacceptance_rate = 0.7\n"
	// Long prompts, a 16 ms TPOT that a Spark cannot meet even lightly
	// loaded and three H100s co-located cannot at this load, and a board
	// that costs three times what the H100s do: too slow and too dear.
	p := disaggPlan(t, "h100-sxm", 3, 8192, 64, 5, 0.016, spec)
	p.File.Search.Hardware = []string{"h100-sxm", "dgx-spark", "hgx-h100-8"}
	p.File.Search.Quants = []string{"fp8", "bf16"}
	p.File.Search.TP = []int{1, 8}
	ratio := 1.5
	p.File.MaxCostRatio = &ratio
	_, r := searchAndFinish(t, p)
	reasons := []string{ReasonMemory, ReasonCapacity, ReasonSLO, ReasonThermal, ReasonRejected, ReasonDominated, ReasonCostly, ReasonInvalid}
	kinds := map[string]bool{}
	for _, o := range r.Rejected {
		if !slices.Contains(reasons, o.Reason) || o.Detail == "" {
			t.Errorf("#%d %s: reason %q, detail %q: want one of %v and a detail", o.Index, o.Key, o.Reason, o.Detail, reasons)
		}
		if o.Reason == ReasonSLO && !strings.Contains(o.Detail, "TPOT") && !strings.Contains(o.Detail, "TTFT") && !strings.Contains(o.Detail, "E2E") {
			t.Errorf("#%d %s: slo detail %q names no target", o.Index, o.Key, o.Detail)
		}
		kind := "plain"
		switch {
		case o.Disaggregated:
			kind = "disaggregated"
		case o.Speculative != nil:
			kind = "speculative"
		}
		kinds[kind+" "+o.Reason] = true
	}
	for _, k := range []string{"disaggregated slo", "speculative slo", "disaggregated costly", "speculative costly"} {
		if !kinds[k] {
			t.Errorf("no %s rejection among %v", k, kinds)
		}
	}
	t.Logf("rejections: %v; %d ranked", kinds, len(r.Ranked))
}

// Disaggregated candidates merge from shards into exactly one run, their
// pools included (the derived split depends only on the plan).
func TestDisaggregatedShardsMergeEqualOneRun(t *testing.T) {
	p := disaggPlan(t, "h100-sxm", 16, 8192, 64, 22, 0.02, "prefill_share = [0.5, 0.75]\n")
	ctx := context.Background()
	one, err := p.Search(ctx, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := finish(t, p, one)
	if !bytes.Contains(want, []byte(`"prefill_nodes"`)) {
		t.Fatal("no pools in the result")
	}
	var shards []*Shard
	for i := range 3 {
		s, err := p.Search(ctx, Options{Shard: i, Shards: 3, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, s)
	}
	merged, err := Merge(shards)
	if err != nil {
		t.Fatal(err)
	}
	if got := finish(t, p, merged); !bytes.Equal(got, want) {
		t.Errorf("3 shards merged differ from one run:\n%s", firstDiff(got, want))
	}
}

// Pools on different nodes need two: with max_nodes = 1 the analysis
// turns the disaggregated twin down as capacity and says why, while the
// co-located one is judged as before.
func TestDisaggregationNeedsTwoNodes(t *testing.T) {
	p := disaggPlan(t, "h100-sxm", 1, 256, 256, 0.5, 0.05, "")
	for _, c := range p.Candidates() {
		_, reason, detail := p.analyze(c.groups()[0])
		switch {
		case c.Disaggregated && (reason != ReasonCapacity || !strings.Contains(detail, "a prefill node and a decode node")):
			t.Errorf("#%d %s: %s: %s; want capacity naming the two pools", c.Index, c.Key(), reason, detail)
		case !c.Disaggregated && reason != "":
			t.Errorf("#%d %s: %s: %s; want it viable", c.Index, c.Key(), reason, detail)
		}
	}
}
