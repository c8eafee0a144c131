package planner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

func env(t testing.TB) (*catalog.Catalog, perf.ProfileSet) {
	t.Helper()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	profs, err := perf.DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	return cat, profs
}

func load(t testing.TB, path string) *Plan {
	t.Helper()
	cat, profs := env(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(path, data, cat, profs, os.DirFS(filepath.Dir(path)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func finish(t testing.TB, p *Plan, s *Shard) []byte {
	t.Helper()
	r, err := p.Finish(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := jsonfmt.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// searchAndFinish runs a whole plan as one process.
func searchAndFinish(t *testing.T, p *Plan) (*Shard, *Result) {
	t.Helper()
	s, err := p.Search(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Finish(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

func TestPartitions(t *testing.T) {
	bell := []int{0, 1, 2, 5, 15, 52}
	for n := 1; n <= 5; n++ {
		items := []string{"a", "b", "c", "d", "e"}[:n]
		parts := Partitions(items)
		if len(parts) != bell[n] {
			t.Errorf("Partitions(%d items): %d, want Bell(%d) = %d", n, len(parts), n, bell[n])
		}
		seen := map[string]bool{}
		for _, p := range parts {
			var all []string
			for _, g := range p {
				if len(g) == 0 {
					t.Errorf("empty group in %v", p)
				}
				all = append(all, g...)
			}
			slices.Sort(all)
			if !slices.Equal(all, items) {
				t.Errorf("partition %v does not hold each item once", p)
			}
			if k := layoutKey(p); seen[k] {
				t.Errorf("partition %s twice", k)
			} else {
				seen[k] = true
			}
		}
	}
}

func TestCandidatesSkipPointlessMemoryChoices(t *testing.T) {
	p := load(t, "testdata/small.toml")
	cs := p.Candidates()
	// 3 quants × (together × 2 memory + apart × 1) × 2 max_seqs.
	if len(cs) != 18 {
		t.Fatalf("%d candidates, want 18", len(cs))
	}
	keys := map[string]bool{}
	for i, c := range cs {
		if c.Index != i {
			t.Errorf("candidate %d has index %d", i, c.Index)
		}
		if keys[c.Key()] {
			t.Errorf("candidate %s twice", c.Key())
		}
		keys[c.Key()] = true
		if len(c.Placement) == 2 && c.Memory != "static" {
			t.Errorf("%s: a placement with one model per node varies memory sharing", c.Key())
		}
	}
}

func TestParseErrors(t *testing.T) {
	base, err := os.ReadFile("testdata/small.toml")
	if err != nil {
		t.Fatal(err)
	}
	cat, profs := env(t)
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"unknown key", "window_s = 900", "window_s = 900\nwindows = 3", "small.toml:6: windows: unknown field"},
		{"unknown hardware", `hardware = ["dgx-spark"]`, `hardware = ["dgx-sparkle"]`, "search.hardware[0]"},
		{"unknown layout", `layouts = ["all"]`, `layouts = ["mixed"]`, `unknown layout "mixed"`},
		{"unknown quant", `"bf16"]`, `"bf17"]`, "search.quants[2]"},
		{"unknown model", "[models.qwen3-8b.slo]", "[models.qwen3-7b.slo]", "models.qwen3-7b"},
		{"trace", `process = "poisson"`, "process = \"trace\"\ntrace = \"x.csv\"", "replay a trace with fleettwin simulate"},
		{"negative seqs", "max_seqs = [2, 8]", "max_seqs = [2, -8]", "search.max_seqs[1]: must be in [0, 65536], got -8"},
		// Issue 11: values that used to exhaust memory or overflow a duration.
		{"window 1e12", "window_s = 900", "window_s = 1e12", "window_s: warmup_s + window_s must be at most 2678400 s"},
		{"window inf", "window_s = 900", "window_s = inf", "small.toml:5: window_s: must be a finite number"},
		{"growth 1e300", "replicas = 1", "replicas = 1\ngrowth = 1e300", "growth: must be at most 1000"},
		{"growth × rate", "window_s = 900", "window_s = 2000000\ngrowth = 1000", "growth: the design load"},
		{"max_nodes huge", "max_nodes = 4", "max_nodes = 1000000", "search.max_nodes: must be in [1, 10000]"},
		{"max_nodes × models", "max_nodes = 4", "max_nodes = 10001", "search.max_nodes: max_nodes × served models may be at most 20000"},
		{"nested", "seed = 7", "seed = 7\nx = " + strings.Repeat("[", 5000), "nest deeper than 32 levels"},
		{"no engine profile", `engines = ["llama.cpp"]`, `engines = ["sglang"]`, "no profile for any of these engines"},
		{"growth", "replicas = 1", "replicas = 1\ngrowth = -2", "growth: must be positive"},
		{"malformed", "seed = 7", "seed = = 7", "small.toml:4"},
		{"tp zero", "max_seqs = [2, 8]", "max_seqs = [2, 8]\ntp = [1, 0]", "search.tp[1]: must be in [1, 72], got 0"},
		{"tp twice", "max_seqs = [2, 8]", "max_seqs = [2, 8]\ntp = [2, 2]", "search.tp[1]: 2 is listed twice"},
		{"unknown node type", `hardware = ["dgx-spark"]`, `hardware = ["hgx-h100-9"]`, "search.hardware[0]"},
		{"speculative method", "max_seqs = [2, 8]", "max_seqs = [2, 8]\nspeculative = [{method = \"medusa\"}]", `search.speculative[0].method: unknown speculative method "medusa"`},
		{"speculative off", "max_seqs = [2, 8]", "max_seqs = [2, 8]\nspeculative = [{method = \"off\", proposal_tokens = 4}]", `search.speculative[0]: method "off" takes no other field`},
		{"disaggregation twice", "max_seqs = [2, 8]", "max_seqs = [2, 8]\ndisaggregation = [true, true]", "search.disaggregation[1]: true is listed twice"},
		{"prefill share alone", "max_seqs = [2, 8]", "max_seqs = [2, 8]\nprefill_share = [0.5]", "search.prefill_share: applies to disaggregated candidates"},
		{"prefill share 1", "max_seqs = [2, 8]", "max_seqs = [2, 8]\ndisaggregation = [true]\nprefill_share = [0.5, 1]", "search.prefill_share[1]: must be in (0, 1), got 1"},
		{"network", "seed = 7", "seed = 7\nnetwork = {interconnect = \"nvlink9\"}", `network.interconnect: unknown interconnect "nvlink9"`},
		{"network bandwidth", "seed = 7", "seed = 7\nnetwork = {bandwidth_gbs = -1}", "network.bandwidth_gbs: must be in (0, 10000] GB/s, got -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Replace(base, []byte(tc.from), []byte(tc.to), 1)
			if bytes.Equal(data, base) {
				t.Fatalf("%q not in the plan", tc.from)
			}
			_, err := Parse("small.toml", data, cat, profs, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	base, err := os.ReadFile("testdata/small.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(base)
	f.Add([]byte("[search]\nhardware = [\"dgx-spark\"]\nmax_nodes = -1\n"))
	for _, r := range [][2]string{ // issue 11: non-finite, huge and nested values
		{"window_s = 900", "window_s = 1e12"}, {"window_s = 900", "window_s = nan"},
		{"replicas = 1", "replicas = 1\ngrowth = 1e300"}, {"max_nodes = 4", "max_nodes = 1000000"},
		{"seed = 7", "seed = 7\nx = " + strings.Repeat("[", 64)},
		{"max_nodes = 4", "max_nodes = 4\ndisaggregation = [false, true]\nprefill_share = [0.25, 0.75]"},
		{"seed = 7", "seed = 7\nnetwork = {interconnect = \"connectx7-roce-200g\", latency_us = 5}"},
	} {
		f.Add(bytes.Replace(base, []byte(r[0]), []byte(r[1]), 1))
	}
	cat, profs := env(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.toml", data, cat, profs, nil)
		if err != nil {
			var l tomlcheck.ErrorList
			var fe *tomlcheck.Error
			if !errors.As(err, &l) && !errors.As(err, &fe) {
				t.Fatalf("error without a location: %v", err)
			}
			return
		}
		if p.File.Search.MaxNodes < 1 || p.File.WindowS <= 0 {
			t.Fatalf("accepted a plan with max_nodes %d, window %v", p.File.Search.MaxNodes, p.File.WindowS)
		}
		if len(p.Candidates()) > 0 && len(p.Models) == 0 {
			t.Fatal("candidates without models")
		}
	})
}

// One run, n shards merged, and runs with different worker counts finish
// byte for byte alike.
func TestShardsMergeEqualOneRun(t *testing.T) {
	p := load(t, "testdata/small.toml")
	ctx := context.Background()
	one, err := p.Search(ctx, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := finish(t, p, one)
	serial, err := p.Search(ctx, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := finish(t, p, serial); !bytes.Equal(got, want) {
		t.Error("one worker and two finish differently")
	}
	for _, n := range []int{2, 3, 5} {
		var shards []*Shard
		for i := n - 1; i >= 0; i-- { // any order
			s, err := p.Search(ctx, Options{Shard: i, Shards: n})
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
			t.Errorf("%d shards merged differ from one run:\n%s", n, firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  merged: %s\n  one:    %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(al), len(bl))
}

func TestMergeRefusesIncompleteOrMixedShards(t *testing.T) {
	p := load(t, "testdata/small.toml")
	ctx := context.Background()
	s0, _ := p.Search(ctx, Options{Shard: 0, Shards: 2})
	s1, _ := p.Search(ctx, Options{Shard: 1, Shards: 2})
	other := *s1
	other.PlanSHA256 = "different"
	for _, tc := range []struct {
		name   string
		shards []*Shard
		want   string
	}{
		{"missing", []*Shard{s0}, "shard 1/2 is missing"},
		{"twice", []*Shard{s0, s0}, "given twice"},
		{"other plan", []*Shard{s0, &other}, "different plan"},
		{"none", nil, "no shards"},
	} {
		if _, err := Merge(tc.shards); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := p.Finish(ctx, s0, nil); err == nil {
		t.Error("Finish accepted one shard of two")
	}
	// Issue 11: shard files are read from disk; a hostile or damaged one
	// is an error, not a panic or an allocation of 10¹⁸ flags.
	huge := *s0
	huge.Shards = 1 << 60
	if _, err := Merge([]*Shard{&huge}); err == nil || !strings.Contains(err.Error(), "claims 1152921504606846976 shards") {
		t.Errorf("Merge of a shard claiming 2^60 shards: %v", err)
	}
	whole, err := p.Search(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(f func(s *Shard)) *Shard {
		c, err := roundTrip(whole)
		if err != nil {
			t.Fatal(err)
		}
		f(c)
		return c
	}
	feasible := slices.IndexFunc(whole.Outcomes, func(o Outcome) bool { return o.Feasible })
	if feasible < 0 {
		t.Fatal("the small plan has no feasible configuration")
	}
	for _, tc := range []struct {
		name string
		s    *Shard
		want string
	}{
		{"no metrics", tamper(func(s *Shard) { s.Outcomes[feasible].Metrics = nil }), "feasible but has no simulated metrics"},
		{"no group metrics", tamper(func(s *Shard) { s.Outcomes[feasible].Groups[0].Metrics = nil }), "has no metrics"},
		{"other candidate", tamper(func(s *Shard) { s.Outcomes[0].Quant = "fp32" }), "outcome 0 is not the plan's candidate 0"},
		{"other plan", tamper(func(s *Shard) { s.PlanSHA256 = "x" }), "the outcomes are of another plan"},
	} {
		if _, err := p.Finish(ctx, tc.s, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Finish: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestCapacityAndMemoryRejections(t *testing.T) {
	base, err := os.ReadFile("testdata/small.toml")
	if err != nil {
		t.Fatal(err)
	}
	cat, profs := env(t)
	// 30 requests/s of Qwen3-8B cannot fit on 4 Sparks; Qwen3-235B does
	// not fit on one at all.
	data := bytes.Replace(base, []byte("rate = 0.3"), []byte("rate = 30"), 1)
	data = bytes.Replace(data, []byte(`quants = ["q4_k_m", "q8_0", "bf16"]`), []byte(`quants = ["q4_k_m"]`), 1)
	p, err := Parse("small.toml", data, cat, profs, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Search(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range s.Outcomes {
		if o.Reason != ReasonCapacity || o.Evaluated {
			t.Errorf("#%d %s: %s %q, want a capacity rejection before any simulation", o.Index, o.Key, o.Reason, o.Detail)
		}
	}
	data = bytes.Replace(base, []byte("[models.qwen3-8b.slo]"), []byte("[models.qwen3-8b]\nmodel = \"qwen3-235b-a22b\"\n[models.qwen3-8b.slo]"), 1)
	data = bytes.Replace(data, []byte(`quants = ["q4_k_m", "q8_0", "bf16"]`), []byte(`quants = ["bf16"]`), 1)
	if p, err = Parse("small.toml", data, cat, profs, nil); err != nil {
		t.Fatal(err)
	}
	if s, err = p.Search(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	for _, o := range s.Outcomes {
		if o.Reason != ReasonMemory || !strings.Contains(o.Detail, "qwen3-8b") && !strings.Contains(o.Detail, "235") {
			t.Errorf("#%d %s: %s %q, want a memory rejection", o.Index, o.Key, o.Reason, o.Detail)
		}
	}
}

// The seed plan answers the seed claim with numbers, under each way two
// llama.cpp models can share a DGX Spark (time-slice, mps, one-process; GB10
// has no MIG): the cheapest fleet of each placement, and whether one Spark
// carries both models. Under each sharing, its verdict on the one-Spark
// configuration of the seed scenario (q4_k_m, static memory, 4 slots) agrees
// with simulating the shipped scenario of that sharing on its own; and the
// verdicts are not all alike (time-slice fails on one Spark, mps passes), so
// the comparison can tell the modes apart.
func TestSeedPlanAnswersTheClaim(t *testing.T) {
	p := load(t, "../plans/seed.toml")
	s, r := searchAndFinish(t, p)
	if len(r.Layouts) != 2 {
		t.Fatalf("placements %+v, want both models on one node group and one each", r.Layouts)
	}
	for _, l := range r.Layouts {
		if l.Index < 0 && l.FewerNodes == "" {
			t.Errorf("placement %s: neither a configuration nor a reason", l.Layout)
		}
		t.Logf("placement %s: #%d, %d nodes, $%.0f/month; fewer: %s", l.Layout, l.Index, l.Nodes, l.USDPerMonth, l.FewerNodes)
	}
	if r.Winner == nil || !r.Verify.Met {
		t.Fatalf("no verified winner: %+v", r.Verify)
	}
	if len(r.Winner.Placement) != 1 || r.Winner.Metrics.Nodes != 1 {
		t.Errorf("winner #%d %s: %d nodes, want one Spark for both models", r.Winner.Index, r.Winner.Key, r.Winner.Metrics.Nodes)
	}
	cat, profs := env(t)
	verdicts := map[scenario.Sharing]bool{}
	for _, tt := range []struct {
		sharing scenario.Sharing
		file    string
	}{
		{scenario.TimeSlice, "seed-colocated.toml"},
		{scenario.MPS, "seed-colocated-mps.toml"},
		{scenario.OneProcess, "seed-colocated-one-process.toml"},
	} {
		// The seed scenario's own configuration under this sharing, found
		// in the plan's space.
		var seed *Outcome
		for i, o := range s.Outcomes {
			if len(o.Placement) == 1 && o.Quant == "q4_k_m" && o.Memory == scenario.MemoryStatic && o.Sharing == tt.sharing && o.MaxSeqs == 4 && o.MaxBatchedTokens == 0 {
				seed = &s.Outcomes[i]
			}
		}
		if seed == nil || len(seed.Groups) != 1 {
			t.Errorf("%s: the seed scenario's configuration is not in the seed plan's space, or was not simulated", tt.sharing)
			continue
		}
		var oneSpark *Trial
		for i, tr := range seed.Groups[0].Trials {
			if tr.Nodes == 1 {
				oneSpark = &seed.Groups[0].Trials[i]
			}
		}
		if oneSpark == nil {
			t.Errorf("%s: the plan never tried one Spark for both models", tt.sharing)
			continue
		}
		sc, err := scenario.Load("../scenarios/"+tt.file, cat, profs)
		if err != nil {
			t.Fatal(err)
		}
		if len(sc.Nodes) != 1 || sc.Nodes[0].Sharing != tt.sharing {
			t.Fatalf("%s: want one node with sharing %q", tt.file, tt.sharing)
		}
		res, err := sim.Run(context.Background(), sc, sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		met := true
		for _, m := range res.Models {
			met = met && m.SLOMet
		}
		if met != oneSpark.OK {
			t.Errorf("one Spark for both, %s: the plan says ok=%v (%s), scenarios/%s says SLOs met=%v", tt.sharing, oneSpark.OK, oneSpark.Detail, tt.file, met)
		}
		verdicts[tt.sharing] = oneSpark.OK
		t.Logf("%s: one Spark ok=%v (%s)", tt.sharing, oneSpark.OK, oneSpark.Detail)
	}
	if verdicts[scenario.TimeSlice] || !verdicts[scenario.MPS] {
		t.Errorf("one Spark at the seed's settings: time-slice ok=%v, mps ok=%v; want it to fail time-sliced and pass under MPS (scenarios/README.md)", verdicts[scenario.TimeSlice], verdicts[scenario.MPS])
	}
}
