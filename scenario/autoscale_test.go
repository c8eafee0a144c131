package scenario

import (
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// scaledGroup is Qwen3-8B on a group of H100s that scales from 2 to 6.
const scaledGroup = `name = "scaled"
seed = 1
duration_s = 300
warmup_s = 30

[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 5
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 512
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 128

[[nodes]]
name = "h"
hardware = "h100-sxm"
engine = "vllm"
count = 2
  [nodes.autoscale]
  min = 2
  max = 6
  target = 8
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"
`

// TestAutoscaleResolves: the group builds max nodes, the first count
// serve, unset fields take DefaultAutoscale's, and the cold start is boot
// + the node's weights at load_gbs + warm-up.
func TestAutoscaleResolves(t *testing.T) {
	sc, err := Parse("t.toml", []byte(scaledGroup), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Nodes) != 6 || len(sc.Autoscale) != 1 {
		t.Fatalf("%d nodes, %d scale groups; want 6 and 1", len(sc.Nodes), len(sc.Autoscale))
	}
	g := sc.Autoscale[0]
	if g.Initial != 2 || len(g.Nodes) != 6 || g.Nodes[5] != 5 || sc.Nodes[5].Name != "h-5" {
		t.Errorf("group %+v, last node %q", g, sc.Nodes[5].Name)
	}
	d := DefaultAutoscale
	if r := g.Rule; r.Policy != ScaleConcurrency || r.ScrapeS != d.ScrapeS || r.ScaleDownWindowS != d.ScaleDownWindowS || r.BootS != d.BootS || r.LoadGBs != d.LoadGBs || r.WarmupS != d.WarmupS {
		t.Errorf("defaults not applied: %+v", r)
	}
	want := d.BootS + sc.Nodes[0].Instances[0].WeightBytes/(d.LoadGBs*1e9) + d.WarmupS
	if g.ColdStartS != want {
		t.Errorf("cold start %v, want %v", g.ColdStartS, want)
	}
}

func TestAutoscaleErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		edits []string
		kind  tomlcheck.Kind
		want  string
	}{
		{"min zero", []string{"min = 2", "min = 0"}, tomlcheck.OutOfRange, "nodes[0].autoscale.min: must be at least 1"},
		{"max below min", []string{"max = 6", "max = 1"}, tomlcheck.OutOfRange, "nodes[0].autoscale.max: must be between min (2) and"},
		{"count outside", []string{"count = 2", "count = 7"}, tomlcheck.OutOfRange, "nodes[0].count: is the nodes serving at the start of an autoscaled group: must be between autoscale.min (2) and autoscale.max (6), got 7"},
		{"unknown policy", []string{"target = 8", "target = 8\n  policy = \"cpu\""}, tomlcheck.Invalid, `nodes[0].autoscale.policy: unknown policy "cpu"; valid: concurrency, utilization, queue, kv`},
		{"utilization above 1", []string{"target = 8", "target = 8\n  policy = \"utilization\""}, tomlcheck.OutOfRange, `nodes[0].autoscale.target: is a share under policy "utilization": must be in (0, 1], got 8`},
		{"no target", []string{"target = 8", ""}, tomlcheck.OutOfRange, `nodes[0].autoscale.target: is requests per node under policy "concurrency"`},
		{"negative boot", []string{"target = 8", "target = 8\n  boot_s = -5"}, tomlcheck.OutOfRange, "nodes[0].autoscale.boot_s: must be in [0, 86400] s"},
		{"zero bandwidth", []string{"target = 8", "target = 8\n  load_gbs = -1"}, tomlcheck.OutOfRange, "nodes[0].autoscale.load_gbs: must be in (0, 10000] GB/s, got -1"},
		{"unknown field", []string{"target = 8", "target = 8\n  cooldown = 3"}, tomlcheck.Unknown, "t.toml:25: nodes.autoscale.cooldown: unknown field"},
		{"with a role", []string{"count = 2\n", "count = 2\nrole = \"decode\"\n"}, tomlcheck.Invalid, "nodes[0].autoscale: a disaggregated (role) group cannot autoscale yet"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(edit(t, scaledGroup, tt.edits...)), cat, profiles, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !tomlcheck.Has(err, tt.kind) {
				t.Errorf("error %v\nwant %q of kind %v", err, tt.want, tt.kind)
			}
		})
	}
}
