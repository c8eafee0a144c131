package tco

import (
	"math"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

// Renting, an autoscaled node pays for the share of the window it was
// held; owning, it is bought all the same.
func TestAutoscaledRentsHeldTime(t *testing.T) {
	src := `name = "scaled"
seed = 1
duration_s = 900
warmup_s = 0
[cost]
pricing = "cloud"
[models.qwen3-8b.workload]
arrival = { process = "poisson", rate = 1 }
input = { dist = "fixed", value = 512 }
output = { dist = "fixed", value = 64 }
[[nodes]]
name = "h"
hardware = "h100-sxm"
engine = "vllm"
count = 3
cloud_usd_per_hour = 2.0
  [nodes.autoscale]
  min = 1
  max = 3
  target = 8
  scrape_s = 10
  scale_down_window_s = 30
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "bf16"
`
	sc, err := scenario.Parse("t.toml", []byte(src), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sim.Run(t.Context(), sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Evaluate(sc, res)
	if err != nil {
		t.Fatal(err)
	}
	want := 0.0
	for i, n := range r.Nodes {
		d := res.Devices[i]
		held := *d.WindowHeldS / d.WindowS
		if math.Abs(n.Held-held) > 1e-12 || math.Abs(n.USDPerHour-2*held) > 1e-9 {
			t.Errorf("%s: held %.3f, $%.4f/h; want %.3f and $%.4f/h", n.Node, n.Held, n.USDPerHour, held, 2*held)
		}
		want += 2 * held
	}
	if math.Abs(r.USDPerHour-want) > 1e-9 || !(r.USDPerHour < 0.6*6) {
		t.Errorf("fleet $%.4f/h, want the held share of $6/h: $%.4f/h", r.USDPerHour, want)
	}
	var busy, heldS float64
	for _, d := range res.Devices {
		busy += d.WindowUtilization * d.WindowS
		heldS += *d.WindowHeldS
	}
	if math.Abs(r.Utilization-busy/heldS) > 1e-12 {
		t.Errorf("utilization %v, want the busy share of the held time %v", r.Utilization, busy/heldS)
	}
	if !strings.Contains(strings.Join(r.Assumptions, "\n"), "h: autoscaled 1-3 nodes on concurrency") {
		t.Errorf("assumptions do not state the autoscaling: %q", r.Assumptions)
	}
	sc.Cost.Pricing = "own"
	own, err := Evaluate(sc, res)
	if err != nil {
		t.Fatal(err)
	}
	if own.HardwareSpendUSD != 3*sc.Nodes[0].PriceUSD {
		t.Errorf("owned: spend $%v, want all three nodes bought", own.HardwareSpendUSD)
	}
}
