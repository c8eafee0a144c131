package planner

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/scenario"
)

// sharingPlan is testdata/small.toml searching llama.cpp and vLLM on the
// Spark, under the given search.sharing line (none if empty).
func sharingPlan(t *testing.T, line string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/small.toml")
	if err != nil {
		t.Fatal(err)
	}
	from := []byte(`engines = ["llama.cpp"]`)
	if !bytes.Contains(data, from) {
		t.Fatal("small.toml lost its engines line")
	}
	return bytes.Replace(data, from, []byte("engines = [\"llama.cpp\", \"vllm\"]\n"+line), 1)
}

// TestCandidatesCarrySharing: search.sharing varies only the layouts
// where models share a node, skips what an engine cannot do (one-process
// under vLLM), reaches the scenario each group is judged on, and leaves
// the candidates of plans that name none as they were.
func TestCandidatesCarrySharing(t *testing.T) {
	cat, profs := env(t)
	p, err := Parse("small.toml", sharingPlan(t, `sharing = ["time-slice", "one-process"]`), cat, profs, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs := p.Candidates()
	// 3 quants × 2 max_seqs × (llama.cpp: together × 2 memory × 2 sharing
	// + apart; vLLM: together × 2 memory × time-slice + apart).
	if len(cs) != 6*(5+3) {
		t.Fatalf("%d candidates, want 48", len(cs))
	}
	keys := map[string]bool{}
	count := map[string]int{}
	resolved := 0
	for _, c := range cs {
		if keys[c.Key()] {
			t.Errorf("candidate %s twice", c.Key())
		}
		keys[c.Key()] = true
		shared := len(c.Placement) == 1
		switch {
		case !shared && c.Sharing != "":
			t.Errorf("%s: one model per node varies the sharing", c.Key())
		case c.Engine == "vllm" && c.Sharing == scenario.OneProcess:
			t.Errorf("%s: vLLM cannot host two models in one process", c.Key())
		}
		count[c.Engine+"/"+string(c.Sharing)]++
		for _, g := range c.groups() {
			f := p.designFile(g, 1, 7)
			if got := f.Nodes[0].Sharing; got != g.Sharing {
				t.Fatalf("%s: the design scenario's sharing %q, want %q", g.key(), got, g.Sharing)
			}
			if g.Sharing == "" {
				continue
			}
			sc, err := scenario.Resolve(f.Name, f, cat, profs, nil)
			if err != nil && !isMemoryError(err) {
				t.Fatalf("%s: %v", g.key(), err)
			}
			if err == nil {
				resolved++
				if sc.Nodes[0].Sharing != g.Sharing {
					t.Errorf("%s resolved to sharing %q", g.key(), sc.Nodes[0].Sharing)
				}
			}
			if !strings.HasSuffix(g.Settings.key(), "/share-"+string(g.Sharing)) {
				t.Errorf("key %s does not name its sharing", g.Settings.key())
			}
		}
	}
	if resolved == 0 {
		t.Error("no group with a sharing resolved")
	}
	want := map[string]int{"llama.cpp/time-slice": 12, "llama.cpp/one-process": 12, "llama.cpp/": 6, "vllm/time-slice": 12, "vllm/": 6}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%d candidates %s, want %d (all: %v)", count[k], k, n, count)
		}
	}

	// Without search.sharing: the devices' defaults, and the keys the plan
	// always had.
	p, err = Parse("small.toml", sharingPlan(t, ""), cat, profs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Candidates() {
		if c.Sharing != "" || strings.Contains(c.Key(), "share-") {
			t.Fatalf("%s: sharing %q without search.sharing", c.Key(), c.Sharing)
		}
	}
}

func TestSharingParseErrors(t *testing.T) {
	cat, profs := env(t)
	for _, tc := range []struct {
		name, line, want string
	}{
		{"mig", `sharing = ["time-slice", "mig"]`, "small.toml:50: search.sharing[1]: the planner does not choose MIG partitions"},
		{"unknown", `sharing = ["mps", "shared"]`, "search.sharing[1]: unknown sharing \"shared\"; valid here: time-slice, mps, one-process"},
		{"twice", `sharing = ["mps", "mps"]`, "search.sharing[1]: \"mps\" is listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("small.toml", sharingPlan(t, tc.line), cat, profs, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// one-process suits no engine of a vLLM-only search.
	data := bytes.Replace(sharingPlan(t, `sharing = ["one-process"]`), []byte(`["llama.cpp", "vllm"]`), []byte(`["vllm"]`), 1)
	_, err := Parse("small.toml", data, cat, profs, nil)
	if want := "search.sharing[0]: \"one-process\" suits none of the search's hardware and engines"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error containing %q", err, want)
	}
}
