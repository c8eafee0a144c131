package planner

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// seed10x is plans/seed-10x.toml with the edits given (old, new pairs),
// shortened so a test searches it in seconds: a five-minute window, one
// seed, no verification.
func seed10x(t *testing.T, edits ...string) *Plan {
	t.Helper()
	data, err := os.ReadFile("../plans/seed-10x.toml")
	if err != nil {
		t.Fatal(err)
	}
	edits = append(edits, "window_s = 1800", "window_s = 300", "replicas = 2", "replicas = 1", "verify_seeds = 2", "verify_seeds = 0")
	for i := 0; i < len(edits); i += 2 {
		next := bytes.Replace(data, []byte(edits[i]), []byte(edits[i+1]), 1)
		if bytes.Equal(next, data) {
			t.Fatalf("%q not in plans/seed-10x.toml", edits[i])
		}
		data = next
	}
	cat, profs := env(t)
	p, err := Parse("seed-10x.toml", data, cat, profs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The done-when of issue 15: the seed's question at 10x the traffic
// considers 8-GPU nodes, judges their layouts, served co-located and
// disaggregated, and a winner on them names its layout.
func TestSeed10xConsidersEightGPUNodes(t *testing.T) {
	tps := map[int]bool{}
	disagg := map[string]bool{}
	_, r := searchAndFinish(t, seed10x(t))
	for _, o := range r.Ranked {
		if o.Disaggregated && o.PoolsLabel() != "" {
			disagg[o.Hardware] = true
		}
	}
	for _, hw := range []string{"dgx-spark", "h100-sxm", "hgx-h100-8"} {
		if !disagg[hw] {
			t.Errorf("no feasible disaggregated configuration on %s (feasible: %v)", hw, disagg)
		}
	}
	for _, o := range append(r.Ranked, r.Rejected...) {
		if o.Hardware == "hgx-h100-8" {
			if o.TP == 0 || len(o.DP) != len(o.Placement) {
				t.Errorf("#%d on hgx-h100-8: tp %d, dp %v: want a layout", o.Index, o.TP, o.DP)
			}
			if o.Feasible {
				tps[o.TP] = true
			}
		}
	}
	for _, tp := range []int{1, 2, 4, 8} {
		if !tps[tp] {
			t.Errorf("no feasible hgx-h100-8 configuration at tp %d (feasible: %v)", tp, tps)
		}
	}
	if r.Winner == nil {
		t.Fatal("no winner")
	}
	// On the board alone the answer is a layout.
	_, r = searchAndFinish(t, seed10x(t, `hardware = ["dgx-spark", "h100-sxm", "hgx-h100-8"]`, `hardware = ["hgx-h100-8"]`))
	w := r.Winner
	if w == nil || w.TP == 0 || len(w.DP) == 0 || !strings.Contains(w.Key, "/tp-") {
		t.Fatalf("winner on hgx-h100-8 %+v: want one that names its tp and dp", w)
	}
	t.Logf("winner on hgx-h100-8: %s, $%.0f/month", w.Key, w.Metrics.USDPerMonth)
}

// Layouts the node cannot hold are not enumerated; those it can are, each
// instance running as many replicas as fill it. A plan without the new
// keys enumerates what it always did.
func TestCandidatesOfNodeTypes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edits []string
		want  []string // tp/dp of each hgx-h100-8 candidate, in order
	}{
		{"tp up to 16", []string{"tp = [1, 2, 4, 8]", "tp = [1, 8, 16]"},
			// together: 2 models × tp 8 needs 16 GPUs; tp 16 never fits
			[]string{"tp1 dp[4]", "tp1 dp[8 8]", "tp8 dp[1 1]"}},
		{"pp", []string{"tp = [1, 2, 4, 8]", "tp = [2]\npp = [1, 2]"},
			[]string{"tp2 dp[2]", "tp2 pp2 dp[1]", "tp2 dp[4 4]", "tp2 pp2 dp[2 2]"}},
		{"ep within the devices", []string{"tp = [1, 2, 4, 8]", "tp = [2]\nep = [1, 2, 4]"},
			[]string{"tp2 dp[2]", "tp2 ep2 dp[2]", "tp2 dp[4 4]", "tp2 ep2 dp[4 4]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edits := append([]string{`hardware = ["dgx-spark", "h100-sxm", "hgx-h100-8"]`, `hardware = ["hgx-h100-8"]`,
				`quants = ["q4_k_m", "fp8", "bf16"]`, `quants = ["fp8"]`, "max_seqs = [8, 32]", "max_seqs = [8]",
				"disaggregation = [false, true]", "disaggregation = [false]"}, tc.edits...)
			var got []string
			for _, c := range seed10x(t, edits...).Candidates() {
				s := "tp" + strconv.Itoa(c.TP)
				if c.PP > 1 {
					s += " pp" + strconv.Itoa(c.PP)
				}
				if c.EP > 1 {
					s += " ep" + strconv.Itoa(c.EP)
				}
				var dp []string
				for _, d := range c.DP {
					dp = append(dp, strconv.Itoa(d))
				}
				got = append(got, s+" dp["+strings.Join(dp, " ")+"]")
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("candidates %q, want %q", got, tc.want)
			}
		})
	}
	// A plan of devices: no layout, no speculative decoding, the old keys.
	for _, c := range load(t, "testdata/small.toml").Candidates() {
		if c.TP != 0 || c.DP != nil || c.Speculative != nil || strings.Contains(c.Key(), "/tp-") || strings.Contains(c.Key(), "/spec-") {
			t.Errorf("#%d %s: a plan without the new keys gained a layout", c.Index, c.Key())
		}
	}
}

// Speculative decoding is searched on devices and over several; its
// decode steps yield several tokens, so the lone-TPOT bound falls.
func TestSearchSpeculative(t *testing.T) {
	spec := "max_nodes = 16\n\n[[search.speculative]]\nmethod = \"off\"\n\n[[search.speculative]]\nmethod = \"draft\"\ndraft_model = \"qwen3-0.6b\"\nproposal_tokens = 4\nacceptance_rate = 0.7\n"
	p := seed10x(t, "max_nodes = 16\n", spec, `hardware = ["dgx-spark", "h100-sxm", "hgx-h100-8"]`, `hardware = ["h100-sxm", "hgx-h100-8"]`,
		`quants = ["q4_k_m", "fp8", "bf16"]`, `quants = ["fp8"]`, "max_seqs = [8, 32]", "max_seqs = [8]", `layouts = ["all"]`, `layouts = ["separate"]`)
	bounds := map[string]float64{}
	overSeveral := 0
	for _, c := range p.Candidates() {
		if c.Speculative != nil && c.TP > 1 {
			overSeveral++
		}
		if c.Hardware != "h100-sxm" {
			continue
		}
		b, reason, detail := p.analyze(c.groups()[0])
		if reason != "" {
			t.Fatalf("#%d %s: %s: %s", c.Index, c.Key(), reason, detail)
		}
		bounds[SpecLabel(c.Speculative)] = b.TPOTS
	}
	if overSeveral == 0 {
		t.Error("no speculative candidate over several devices of the hgx-h100-8")
	}
	off, on := bounds["off"], bounds["draft-qwen3-0.6b-k4-a0.7"]
	if !(on > 0 && on < off) {
		t.Errorf("lone-TPOT bound with a draft %g s, without %g s: want it lower with", on, off)
	}
}
