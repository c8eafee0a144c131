package scenario

import (
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// disaggPair is Qwen3-8B with a prefill pool and a decode pool of one
// H100 each, over a [network] of its own.
const disaggPair = `name = "pd"
seed = 1
duration_s = 300
warmup_s = 30

[network]
bandwidth_gbs = 12.5

[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 0.5
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 4096
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 128

[[nodes]]
name = "p"
hardware = "h100-sxm"
engine = "vllm"
count = 1
role = "prefill"
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"

[[nodes]]
name = "d"
hardware = "h100-sxm"
engine = "vllm"
count = 1
role = "decode"
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"
`

// TestDisaggRoles: each instance takes its group's role (or its own), and
// the network takes the file's figures over DefaultNetwork's.
func TestDisaggRoles(t *testing.T) {
	sc, err := Parse("t.toml", []byte(disaggPair), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r0, r1 := sc.Nodes[0].Instances[0].Role, sc.Nodes[1].Instances[0].Role; r0 != RolePrefill || r1 != RoleDecode {
		t.Errorf("roles %q, %q", r0, r1)
	}
	if n := sc.Network; n.BandwidthGBs != 12.5 || n.LatencyUS != DefaultNetwork.LatencyUS {
		t.Errorf("network %+v", n)
	}
	sc, err = Parse("t.toml", []byte(edit(t, disaggPair, "[network]\nbandwidth_gbs = 12.5", "[network]\ninterconnect = \"connectx7-roce-200g\"")), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := sc.Network; n.BandwidthGBs != 25 || n.LatencyUS != 2.7 || n.Name != "connectx7-roce-200g" {
		t.Errorf("catalog network %+v", n)
	}
	// Without roles or [network], nothing changes: both phases, the default link.
	plain := edit(t, disaggPair, "[network]\nbandwidth_gbs = 12.5", "", "role = \"prefill\"", "", "role = \"decode\"", "")
	if sc, err = Parse("t.toml", []byte(plain), cat, profiles, nil); err != nil {
		t.Fatal(err)
	}
	if r := sc.Nodes[0].Instances[0].Role; r != "" || sc.Network != DefaultNetwork {
		t.Errorf("role %q, network %+v", r, sc.Network)
	}
}

func TestDisaggErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		edits []string
		kind  tomlcheck.Kind
		want  string
	}{
		{"unknown role", []string{`role = "decode"`, `role = "decoder"`}, tomlcheck.Invalid,
			`nodes[1].role: unknown role "decoder"; valid: prefill, decode`},
		{"no decode pool", []string{`role = "decode"`, `role = "prefill"`}, tomlcheck.Invalid,
			`models.qwen3-8b: "qwen3-8b" has a prefill pool (2 instance(s)) and no decode pool`},
		{"no prefill pool", []string{`role = "prefill"`, `role = "decode"`}, tomlcheck.Invalid,
			`models.qwen3-8b: "qwen3-8b" has a decode pool (2 instance(s)) and no prefill pool`},
		{"mixed with co-located", []string{`role = "decode"`, ``}, tomlcheck.Invalid,
			`models.qwen3-8b: "qwen3-8b" has instances with role = "prefill" or "decode" and 1 without one`},
		{"instance role overrides", []string{"count = 1\nrole = \"decode\"\n  [[nodes.instances]]\n  model = \"qwen3-8b\"\n  quant = \"fp8\"",
			"count = 1\nrole = \"decode\"\n  [[nodes.instances]]\n  model = \"qwen3-8b\"\n  quant = \"fp8\"\n  role = \"prefill\""}, tomlcheck.Invalid,
			`has a prefill pool (2 instance(s)) and no decode pool`},
		{"role on a shared device", []string{"role = \"decode\"\n  [[nodes.instances]]\n  model = \"qwen3-8b\"\n  quant = \"fp8\"",
			"role = \"decode\"\n  [[nodes.instances]]\n  model = \"qwen3-8b\"\n  quant = \"fp8\"\n  [[nodes.instances]]\n  model = \"qwen3-8b\"\n  quant = \"fp8\""}, tomlcheck.Invalid,
			`nodes[1].role: role "decode" needs the instance to have its device to itself: d runs 2 instances on one device`},
		{"unknown network", []string{"bandwidth_gbs = 12.5", "interconnect = \"ib-800\""}, tomlcheck.NotFound,
			`network.interconnect: unknown interconnect "ib-800"; valid: connectx7-roce-200g, nvlink4-nvswitch`},
		{"negative bandwidth", []string{"bandwidth_gbs = 12.5", "bandwidth_gbs = -1.0"}, tomlcheck.OutOfRange,
			`network.bandwidth_gbs: must be in (0, 10000] GB/s, got -1`},
		{"huge latency", []string{"bandwidth_gbs = 12.5", "latency_us = 1e9"}, tomlcheck.OutOfRange,
			`network.latency_us: must be in (0, 1e+06] µs, got 1e+09`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(edit(t, disaggPair, tt.edits...)), cat, profiles, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !tomlcheck.Has(err, tt.kind) {
				t.Errorf("error %v\nwant %q of kind %v", err, tt.want, tt.kind)
			}
		})
	}
}
