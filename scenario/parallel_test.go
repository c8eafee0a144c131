package scenario

import (
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// l40sPair is Qwen3-32B in bf16 (61 GiB: more than one L40S holds) over
// two of the four L40S of a PCIe server.
const l40sPair = `name = "l40s-tp2"
seed = 1
duration_s = 300
warmup_s = 30

[models.qwen3-32b.workload.arrival]
process = "poisson"
rate = 0.5
[models.qwen3-32b.workload.input]
dist = "fixed"
value = 512
[models.qwen3-32b.workload.output]
dist = "fixed"
value = 128

[[nodes]]
name = "box"
hardware = "l40s-pcie-4"
engine = "vllm"
count = 1

  [[nodes.instances]]
  model = "qwen3-32b"
  quant = "bf16"
  tp = 2
`

// TestParallelInstance: an instance over two devices of a node type gets
// its layout over the node's link, its devices and both devices' memory;
// the node its devices, link, host power and price.
func TestParallelInstance(t *testing.T) {
	sc, err := Parse("t.toml", []byte(l40sPair), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := sc.Nodes[0]
	spec, _ := cat.NodeSpec("l40s-pcie-4")
	if n.Devices != 4 || n.NodeType != "l40s-pcie-4" || n.Link.Name != "pcie4-x16" || n.Hardware.Name != "l40s" ||
		n.HostW != spec.HostPowerW || n.PriceUSD != spec.PriceUSD || n.CloudUSDPerHour != spec.CloudUSDPerHour {
		t.Errorf("node: %+v", n)
	}
	if len(n.Instances) != 1 {
		t.Fatalf("%d instances", len(n.Instances))
	}
	in := n.Instances[0]
	if l := in.Deploy.Layout; l.TP != 2 || l.Devices() != 2 || l.Link.Name != "pcie4-x16" || in.FirstDevice != 0 {
		t.Errorf("layout %+v, first device %d", l, in.FirstDevice)
	}
	if want := 2 * n.Hardware.UsableMemoryBytes() * n.Profile.MemoryFraction; in.BudgetBytes != want {
		t.Errorf("budget %v, want two devices' %v", in.BudgetBytes, want)
	}
	if want := in.Deploy.WeightBytes(); in.WeightBytes != want || !(want < in.BudgetBytes) {
		t.Errorf("weights %v, want %v within %v", in.WeightBytes, want, in.BudgetBytes)
	}
	// The same instance on one L40S does not fit.
	one := edit(t, l40sPair, `hardware = "l40s-pcie-4"`, `hardware = "l40s"`, "  tp = 2\n", "")
	if _, err := Parse("t.toml", []byte(one), cat, profiles, nil); !tomlcheck.Has(err, tomlcheck.NoFit) {
		t.Errorf("Qwen3-32B bf16 on one L40S: %v, want NoFit", err)
	}
}

// TestReplicas: dp replicas take devices one after another.
func TestReplicas(t *testing.T) {
	src := edit(t, l40sPair, `hardware = "l40s-pcie-4"`, `hardware = "hgx-h100-8"`, "quant = \"bf16\"\n  tp = 2", "quant = \"fp8\"\n  tp = 2\n  dp = 3\n"+
		"  [[nodes.instances]]\n  model = \"qwen3-32b\"\n  quant = \"fp8\"\n  tp = 2\n  memory_fraction = 0.8")
	sc, err := Parse("t.toml", []byte(src), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	var first []int
	for _, in := range sc.Nodes[0].Instances {
		first = append(first, in.FirstDevice)
	}
	if got := sc.Nodes[0].Instances; len(got) != 4 || first[0] != 0 || first[1] != 2 || first[2] != 4 || first[3] != 6 {
		t.Errorf("first devices %v, want [0 2 4 6]", first)
	}
	if a, b := sc.Nodes[0].Instances[0].BudgetBytes, sc.Nodes[0].Instances[3].BudgetBytes; !(b < a) {
		t.Errorf("memory_fraction 0.8 budget %v not below the default's %v", b, a)
	}
}

// TestParallelErrors: each layout a node or a model cannot take is
// reported at its field, with its kind.
func TestParallelErrors(t *testing.T) {
	inst := "quant = \"bf16\"\n  tp = 2"
	for _, tt := range []struct {
		name  string
		edits []string
		kind  tomlcheck.Kind
		want  string
	}{
		{"tp over the devices", []string{inst, "quant = \"bf16\"\n  tp = 8"}, tomlcheck.NoFit,
			"nodes[0].instances[0].tp: takes 8 device(s) × 1 replica(s) from device 0, and l40s-pcie-4 has 4"},
		{"replicas over the devices", []string{inst, inst + "\n  dp = 3"}, tomlcheck.NoFit,
			"nodes[0].instances[0].dp: takes 2 device(s) × 3 replica(s) from device 0, and l40s-pcie-4 has 4"},
		{"tp not dividing the heads", []string{inst, "quant = \"bf16\"\n  tp = 3"}, tomlcheck.Invalid,
			"nodes[0].instances[0].tp: must divide qwen3-32b's 64 attention heads, got 3"},
		{"ep on a dense model", []string{inst, inst + "\n  ep = 2"}, tomlcheck.Invalid,
			"nodes[0].instances[0].ep: expert parallelism needs a MoE model; qwen3-32b is dense"},
		{"pp over the layers", []string{inst, "quant = \"bf16\"\n  pp = 65"}, tomlcheck.Invalid,
			"nodes[0].instances[0].pp: must be at most qwen3-32b's 64 layers, got 65"},
		{"negative tp", []string{inst, "quant = \"bf16\"\n  tp = -2"}, tomlcheck.OutOfRange, "nodes[0].instances[0].tp: must be in [1, 72] (0 = 1), got -2"},
		{"tp on one device", []string{`hardware = "l40s-pcie-4"`, `hardware = "h100-sxm"`}, tomlcheck.NoFit,
			"nodes[0].instances[0].tp: tp 2 needs a node of several devices, and h100-sxm is one (set hardware to a node type of it: hgx-h100-8)"},
		{"dp on one device", []string{`hardware = "l40s-pcie-4"`, `hardware = "h100-sxm"`, inst, "quant = \"fp8\"\n  dp = 2"}, tomlcheck.NoFit,
			"nodes[0].instances[0].dp: dp 2 needs a node of several devices, and h100-sxm is one"},
		{"too big for its devices", []string{"quant = \"bf16\"\n  tp = 2", "quant = \"bf16\"\n  tp = 1"}, tomlcheck.NoFit,
			"nodes[0].instances[0].tp: qwen3-32b weights (61.02 GiB over 1 × l40s) and one KV block do not fit their 40.49 GiB"},
		{"sharing on a node type", []string{"count = 1", "count = 1\nsharing = \"mps\""}, tomlcheck.Invalid,
			"nodes[0].sharing: instances on l40s-pcie-4 (4 devices) each own their devices, so there is nothing to share"},
		{"dynamic memory on a node type", []string{"count = 1", "count = 1\nmemory = \"dynamic\""}, tomlcheck.Invalid,
			"nodes[0].memory: instances on l40s-pcie-4 each own their devices' memory"},
		{"mig on a node type", []string{inst, inst + "\n  mig = \"3g.40gb\""}, tomlcheck.Invalid,
			"nodes[0].instances[0].mig: only on a node of one device"},
		{"unknown node type", []string{`hardware = "l40s-pcie-4"`, `hardware = "l40s-pcie-9"`}, tomlcheck.NotFound,
			"nodes[0].hardware: unknown hardware \"l40s-pcie-9\"; valid: a100-80gb, b200, dgx-b200-8, dgx-spark, dgx-spark-pair"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(edit(t, l40sPair, tt.edits...)), cat, profiles, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !tomlcheck.Has(err, tt.kind) {
				t.Errorf("error %v\nwant %q of kind %v", err, tt.want, tt.kind)
			}
		})
	}
}

// TestOneDeviceUnchanged: a node of one device resolves as before node
// types: one device, no link, the device's host power and prices.
func TestOneDeviceUnchanged(t *testing.T) {
	sc, err := Parse("t.toml", []byte(h100Base), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := sc.Nodes[0]
	hw, _ := cat.HardwareNamed("h100-sxm")
	if n.Devices != 1 || n.NodeType != "" || n.Link.Name != "" || n.HostW != hw.HostPowerW || n.PriceUSD != hw.PriceUSD {
		t.Errorf("node %+v", n)
	}
	for _, in := range n.Instances {
		if !in.Deploy.Layout.Trivial() || in.FirstDevice != 0 || in.WeightBytes != float64(in.Deploy.Model.WeightParams())*in.Deploy.Weights.BitsPerWeight/8 {
			t.Errorf("instance %+v", in)
		}
	}
}
