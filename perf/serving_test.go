package perf

import (
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

func TestServingTable(t *testing.T) {
	base := `hardware = "h100-sxm"
engine = "trtllm"
prefill_chunk = 8192
memory_fraction = 0.9
[coefficients]
prefill_compute_eff = 0.5
decode_compute_eff = 0.3
expert_compute_eff = 0.3
attention_compute_eff = 0.4
weight_bandwidth_eff = 0.8
expert_bandwidth_eff = 0.6
kv_bandwidth_eff = 0.6
step_overhead_s = 0.0003
layer_overhead_s = 0.0
seq_overhead_s = 1e-05
`
	for _, c := range []struct {
		name, table string
		ok          bool
		kind        tomlcheck.Kind
	}{
		{"none", "", true, 0},
		{"valid", "[serving]\nrequest_s = 0.02\nfrontend_rps = 40\nstep_s = 0.001\nstep_per_seq_s = 1e-4\npolicy = \"prefill-first\"\n", true, 0},
		{"negative latency", "[serving]\nrequest_s = -1\n", false, tomlcheck.OutOfRange},
		{"huge rate", "[serving]\nfrontend_rps = 1e9\n", false, tomlcheck.OutOfRange},
		{"unknown policy", "[serving]\npolicy = \"lifo\"\n", false, tomlcheck.NotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseProfile("p.toml", []byte(base+c.table))
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				if p.Engine != "tensorrt-llm" {
					t.Errorf("engine %q, want trtllm read as tensorrt-llm", p.Engine)
				}
				return
			}
			if !tomlcheck.Has(err, c.kind) {
				t.Errorf("error %v, want kind %v", err, c.kind)
			}
		})
	}
}

func TestServingHelpers(t *testing.T) {
	var nilS *Serving
	if nilS.FrontendService() != 0 || nilS.StepCPU(10) != 0 || nilS.PrefillFirst() || !nilS.IsZero() {
		t.Error("nil serving must add nothing")
	}
	s := &Serving{FrontendRPS: 50, StepS: 1e-3, StepPerSeqS: 1e-4, Policy: PolicyPrefillFirst}
	if got := s.FrontendService(); got != 0.02 {
		t.Errorf("FrontendService = %v, want 0.02", got)
	}
	if got := s.StepCPU(10); got < 2e-3-1e-12 || got > 2e-3+1e-12 {
		t.Errorf("StepCPU(10) = %v, want 0.002", got)
	}
	if !s.PrefillFirst() || s.IsZero() || !strings.Contains(strings.Join(Policies, ","), s.Policy) {
		t.Error("policy helpers")
	}
}
