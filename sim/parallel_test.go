package sim

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/fleettwin/fleettwin/internal/jsonfmt"
)

// onNodeType is a model on a node type, with the instances' lines.
func onNodeType(nodeType, model string, rate float64, instances string) string {
	return fmt.Sprintf(`
name = "parallel"
seed = 5
duration_s = 600
warmup_s = 60
[models.%[2]s.workload.arrival]
process = "poisson"
rate = %[3]g
[models.%[2]s.workload.input]
dist = "lognormal"
mean = 1024.0
stddev = 512.0
max = 8192
[models.%[2]s.workload.output]
dist = "lognormal"
mean = 256.0
stddev = 128.0
max = 2048
[[nodes]]
name = "box"
hardware = "%[1]s"
engine = "vllm"
count = 1
%[4]s`, nodeType, model, rate, instances)
}

// TestQwen32BOnTwoL40S: Qwen3-32B in bf16 (more than one L40S holds) over
// two of a PCIe server's four L40S serves its traffic; the node reports
// its four devices, two busy and two idle.
func TestQwen32BOnTwoL40S(t *testing.T) {
	sc := parse(t, onNodeType("l40s-pcie-4", "qwen3-32b", 0.3, `
  [[nodes.instances]]
  model = "qwen3-32b"
  quant = "bf16"
  tp = 2
`))
	res := run(t, sc, Options{})
	m, d := res.Models[0], res.Devices[0]
	if m.Completed == 0 || m.Rejected > 0 {
		t.Fatalf("completed %d, rejected %d", m.Completed, m.Rejected)
	}
	if len(res.Devices) != 1 || d.Devices != 4 || d.NodeType != "l40s-pcie-4" || d.Hardware != "l40s" || len(d.Instances) != 1 {
		t.Errorf("device result %+v", d)
	}
	if !(d.Utilization > 0 && d.Utilization <= 0.5+1e-12) {
		t.Errorf("node utilization %v: two of four devices busy at most", d.Utilization)
	}
	idle := sc.Nodes[0].Power.IdleW
	if !(d.PowerMeanW >= 4*idle && d.PowerMeanW <= 4*sc.Nodes[0].Power.CapW) {
		t.Errorf("node power %v W, want four devices' (idle %v W each)", d.PowerMeanW, idle)
	}
	if got, want := d.NodePowerMeanW-d.PowerMeanW, sc.Nodes[0].HostW; math.Abs(got-want) > 1e-6*want {
		t.Errorf("host power %v W, want the node type's %v W", got, want)
	}
	if l := res.Little; math.Abs(l.MeanInSystem-l.LambdaW) > 1e-6*max(1, l.LambdaW) {
		t.Errorf("Little's law: L = %v, λW = %v", l.MeanInSystem, l.LambdaW)
	}
	if !(m.EnergyJ > 0 && math.Abs(m.EnergyJ-d.WindowNodeEnergyJ) < 1e-6*d.WindowNodeEnergyJ) {
		t.Errorf("model energy %v J, want the node's window energy %v J (its only model)", m.EnergyJ, d.WindowNodeEnergyJ)
	}
}

// TestTP8OnHGX: Qwen3-235B-A22B in FP8 over the eight H100s of an HGX
// node: one group of eight devices, drawing eight devices' power.
func TestTP8OnHGX(t *testing.T) {
	sc := parse(t, onNodeType("hgx-h100-8", "qwen3-235b-a22b", 2, `
  [[nodes.instances]]
  model = "qwen3-235b-a22b"
  quant = "fp8"
  kv_cache = "fp8"
  tp = 8
`))
	sc.Duration /= 2
	res := run(t, sc, Options{})
	m, d := res.Models[0], res.Devices[0]
	if m.Completed == 0 || m.Rejected > 0 {
		t.Fatalf("completed %d, rejected %d", m.Completed, m.Rejected)
	}
	if d.Devices != 8 || !(d.PowerMeanW >= 8*sc.Nodes[0].Power.IdleW) || !(d.PowerPeakW >= d.PowerMeanW) {
		t.Errorf("device result %+v", d)
	}
	if !(m.TPOT.P50 > 0 && m.TPOT.P50 < 0.2) {
		t.Errorf("TPOT p50 %v s", m.TPOT.P50)
	}
}

// TestReplicasShareTheLoad: four TP2 replicas behind the model's router
// each serve about a quarter of the requests, and the node's utilization
// is their mean.
func TestReplicasShareTheLoad(t *testing.T) {
	sc := parse(t, onNodeType("hgx-h100-8", "qwen3-32b", 4, `
  [[nodes.instances]]
  model = "qwen3-32b"
  quant = "fp8"
  tp = 2
  dp = 4
`))
	sc.Duration /= 2
	res := run(t, sc, Options{})
	d := res.Devices[0]
	if len(d.Instances) != 4 {
		t.Fatalf("%d instances", len(d.Instances))
	}
	var total float64
	for _, in := range d.Instances {
		total += in.PrefillS + in.DecodeS
	}
	for i, in := range d.Instances {
		if s := (in.PrefillS + in.DecodeS) / total; math.Abs(s-0.25) > 0.08 {
			t.Errorf("replica %d kept its devices busy %.3f of the time, want about a quarter", i, s)
		}
	}
}

// TestParallelDeterministic: the same seed gives byte-identical results on
// any GOMAXPROCS.
func TestParallelDeterministic(t *testing.T) {
	sc := parse(t, onNodeType("hgx-h100-8", "qwen3-30b-a3b", 3, `
  [[nodes.instances]]
  model = "qwen3-30b-a3b"
  quant = "fp8"
  tp = 4
  ep = 4
  [[nodes.instances]]
  model = "qwen3-30b-a3b"
  quant = "fp8"
  tp = 2
  pp = 1
`))
	sc.Duration /= 3
	var first []byte
	for _, procs := range []int{1, 2, 8} {
		prev := runtime.GOMAXPROCS(procs)
		reps, err := RunReplicas(t.Context(), sc, 2, 2, Options{}, nil)
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		js, err := jsonfmt.Marshal(reps)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = js
		} else if !bytes.Equal(js, first) {
			t.Errorf("replicas at GOMAXPROCS=%d differ from GOMAXPROCS=1", procs)
		}
	}
	// Two instances and the two idle devices: three groups, one node.
	res := run(t, sc, Options{})
	if len(res.Devices) != 1 || res.Devices[0].Devices != 8 || len(res.Series) != 1 {
		t.Errorf("%d device results, %d series", len(res.Devices), len(res.Series))
	}
}

// TestGroupsOfANode: a node of several devices splits into a group per
// instance and one for its idle devices, sharing the host's power by
// devices; a node of one device is its own group.
func TestGroupsOfANode(t *testing.T) {
	sc := parse(t, onNodeType("hgx-h100-8", "qwen3-32b", 1, `
  [[nodes.instances]]
  model = "qwen3-32b"
  quant = "fp8"
  tp = 2
  [[nodes.instances]]
  model = "qwen3-32b"
  quant = "fp8"
  tp = 4
`))
	gs := groupsOf(sc.Nodes[0])
	var sizes []int
	var host float64
	for _, g := range gs {
		sizes = append(sizes, g.size)
		host += g.node.HostW
	}
	if fmt.Sprint(sizes) != "[2 4 2]" || math.Abs(host-sc.Nodes[0].HostW) > 1e-9 || len(gs[2].node.Instances) != 0 {
		t.Errorf("sizes %v, host %v W of %v W", sizes, host, sc.Nodes[0].HostW)
	}
	one := parse(t, onNodeType("h100-sxm", "qwen3-32b", 1, "  [[nodes.instances]]\n  model = \"qwen3-32b\"\n  quant = \"fp8\"\n"))
	if gs := groupsOf(one.Nodes[0]); len(gs) != 1 || gs[0].size != 1 || gs[0].node.HostW != one.Nodes[0].HostW {
		t.Errorf("one device: %+v", gs)
	}
}
