package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

// autoscaled is a Qwen3-8B service on H100s under vLLM whose one node
// group scales between lo and hi nodes on the given policy.
func autoscaled(durationS, rate float64, diurnal, count, lo, hi int, policy string, target float64, extra string) string {
	arrival := fmt.Sprintf("process = \"poisson\"\nrate = %g\n", rate)
	if diurnal > 0 {
		// Night at a fifth of the day's peak, the peak from 10:00 to 16:00.
		arrival += "diurnal = [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.3, 0.5, 0.7, 0.9, 1, 1, 1, 1, 1, 1, 0.9, 0.7, 0.5, 0.4, 0.3, 0.2, 0.2, 0.2]\n"
	}
	return fmt.Sprintf(`name = "autoscaled"
seed = 5
duration_s = %g
warmup_s = 60
[cost]
pricing = "cloud"
[models.qwen3-8b.slo]
ttft_s = 2.0
[models.qwen3-8b.workload.arrival]
%s
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 1000
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 200
[[nodes]]
name = "h100"
hardware = "h100-sxm"
engine = "vllm"
count = %d
[nodes.autoscale]
min = %d
max = %d
policy = %q
target = %g
%s
[[nodes.instances]]
model = "qwen3-8b"
quant = "bf16"
`, durationS, arrival, count, lo, hi, policy, target, extra)
}

// A node asked for at a tick serves no request before its cold start is
// over: boot, its weights at the stated bandwidth, warm-up.
func TestAutoscaleColdStart(t *testing.T) {
	src := autoscaled(300, 40, 0, 1, 1, 3, "concurrency", 4, "scrape_s = 10\nboot_s = 20\nload_gbs = 4\nwarmup_s = 5")
	sc := parse(t, strings.Replace(src, "warmup_s = 60", "warmup_s = 0", 1)) // records from t = 0
	weights := sc.Nodes[0].Instances[0].WeightBytes
	wantCold := 20 + weights/4e9 + 5
	if got := sc.Autoscale[0].ColdStartS; math.Abs(got-wantCold) > 1e-9 {
		t.Fatalf("cold start %v s, want boot + %.3g GB / 4 GB/s + warm-up = %v s", got, weights/1e9, wantCold)
	}
	first := map[int]float64{}
	res := run(t, sc, Options{OnRequest: func(r RequestRecord) {
		if _, ok := first[r.Instance]; !ok || r.ArrivalS < first[r.Instance] {
			first[r.Instance] = r.ArrivalS
		}
	}})
	a := res.Autoscale[0]
	if a.ScaleUps < 1 || a.PeakNodes < 2 {
		t.Fatalf("40 req/s on one H100 asked for no node: %+v", a)
	}
	// The first tick is at 10 s: no added node can serve before 10 s + cold.
	for inst := 1; inst < 3; inst++ {
		at, ok := first[inst]
		if !ok {
			continue
		}
		if at < 10+wantCold {
			t.Errorf("instance %d took a request at %.2f s, before its cold start ended (%.2f s)", inst, at, 10+wantCold)
		}
	}
	if at, ok := first[1]; !ok || at > 10+wantCold+10+1 {
		t.Errorf("the first node added served first at %v (ok %v): want within a tick of %.2f s", at, ok, 10+wantCold)
	}
}

// Through a day whose peak is five times its night, the group holds more
// nodes at the peak than at night, fewer node-hours than a fleet fixed at
// its max, and still meets the SLO; it rents only the time it holds.
func TestAutoscaleFollowsTheDay(t *testing.T) {
	if testing.Short() {
		t.Skip("a simulated day")
	}
	sc := parse(t, autoscaled(86400, 12, 1, 2, 1, 6, "concurrency", 16, ""))
	res := run(t, sc, Options{})
	a := res.Autoscale[0]
	hour := func(h int) float64 { // mean nodes held in hour h
		per := len(a.NodesHeld) / 24
		sum := 0.0
		for _, v := range a.NodesHeld[h*per : (h+1)*per] {
			sum += v
		}
		return sum / float64(per)
	}
	night, peak := hour(3), hour(13)
	if !(peak > night+1) {
		t.Errorf("nodes held at 13:00 %.2f, at 03:00 %.2f: want more at the peak", peak, night)
	}
	if fixed := float64(a.Max) * (res.DurationS - res.WarmupS) / 3600; !(a.NodeHours < 0.8*fixed) {
		t.Errorf("%.1f node-hours against %.1f fixed at max: want a saving", a.NodeHours, fixed)
	}
	if m := res.Models[0]; !m.SLOMet {
		t.Errorf("SLO not met while autoscaling: attainment %.3f, TTFT p95 %.3f s", m.SLOAttainment, m.TTFT.P95)
	}
	held := 0.0
	for _, d := range res.Devices {
		if d.WindowHeldS == nil {
			t.Fatalf("node %s of an autoscaled group has no held time", d.Node)
		}
		held += *d.WindowHeldS
	}
	if got := held / 3600; math.Abs(got-a.NodeHours) > 1e-3*a.NodeHours+0.01 {
		t.Errorf("nodes' held time %.3f h, group's node-hours %.3f", got, a.NodeHours)
	}
}

// A group that scales is as deterministic as any run, and a scenario
// without one leaves no trace of it in the JSON.
func TestAutoscaleDeterministic(t *testing.T) {
	src := autoscaled(1800, 20, 0, 1, 1, 4, "queue", 2, "scrape_s = 5")
	var out [2][]byte
	for i := range out {
		b, err := json.Marshal(run(t, parse(t, src), Options{}))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Error("two runs of one autoscaled scenario differ")
	}
	b, _ := json.Marshal(run(t, parse(t, `name = "fixed"
seed = 1
duration_s = 60
warmup_s = 0
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 1
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 100
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 10
[[nodes]]
name = "h100"
hardware = "h100-sxm"
engine = "vllm"
count = 1
[[nodes.instances]]
model = "qwen3-8b"
quant = "bf16"
`), Options{}))
	if bytes.Contains(b, []byte("autoscale")) || bytes.Contains(b, []byte("window_held_s")) {
		t.Error("a fixed fleet's result mentions autoscaling")
	}
}

// Scaled down, a node drains: it takes no new request but finishes what
// it holds, and is then switched off, drawing nothing.
func TestAutoscaleDrainsThenSwitchesOff(t *testing.T) {
	// Three nodes for 2 req/s: the scaler keeps one.
	sc := parse(t, autoscaled(900, 2, 0, 3, 1, 3, "concurrency", 8, "scrape_s = 10\nscale_down_window_s = 30"))
	res := run(t, sc, Options{})
	a := res.Autoscale[0]
	if a.ScaleDowns != 2 {
		t.Fatalf("%d scale-downs, want 2 (3 nodes to 1): %+v", a.ScaleDowns, a)
	}
	if m := res.Models[0]; m.Rejected != 0 || m.Completed+m.InFlight != m.Arrived {
		t.Errorf("requests lost while draining: %+v", m)
	}
	last := res.Devices[2]
	if !(*last.WindowHeldS < 0.2*last.WindowS) {
		t.Errorf("the last node was held %.0f s of %.0f: want it off after the window", *last.WindowHeldS, last.WindowS)
	}
	if !(last.PowerMeanW < 0.2*res.Devices[0].PowerMeanW) {
		t.Errorf("the switched-off node drew %.1f W on average, the serving one %.1f W", last.PowerMeanW, res.Devices[0].PowerMeanW)
	}
}
