package perf

import (
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// sharingBase is a complete profile without a [sharing] table.
const sharingBase = `hardware = "h100-sxm"
engine = "vllm"
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

func TestSharingTable(t *testing.T) {
	def := DefaultSharing()
	for _, c := range []struct {
		name, table string
		want        *Sharing // nil: no table
		kind        tomlcheck.Kind
		key         string // the error's key, when kind is set
	}{
		{name: "none"},
		{name: "complete", table: "[sharing]\ntime_slice_s = 0.01\nswitch_s = 1e-4\nswitch_s_stderr = 2e-5\nmps_memory_contention = 0.33\nmps_memory_contention_stderr = 0.05\n" +
			"mps_compute_contention = 0.5\nmps_compute_contention_stderr = 0.2\nsource = \"fit: 2 runs\"\n",
			want: &Sharing{TimeSliceS: 0.01, SwitchS: 1e-4, SwitchSStdErr: 2e-5, MPSMemoryContention: 0.33, MPSMemoryContentionStdErr: 0.05,
				MPSComputeContention: 0.5, MPSComputeContentionStdErr: 0.2, Source: "fit: 2 runs"}},
		// A fit may write only what it fitted: the rest are the priors.
		{name: "partial", table: "[sharing]\nmps_memory_contention = 0.4\n",
			want: &Sharing{TimeSliceS: def.TimeSliceS, SwitchS: def.SwitchS, MPSMemoryContention: 0.4, MPSComputeContention: 1}},
		{name: "zero contention is allowed", table: "[sharing]\nmps_memory_contention = 0\nmps_compute_contention = 0\n",
			want: &Sharing{TimeSliceS: def.TimeSliceS, SwitchS: def.SwitchS, MPSMemoryContention: 0, MPSComputeContention: 0}},
		{name: "zero slice", table: "[sharing]\ntime_slice_s = 0\n", kind: tomlcheck.OutOfRange, key: "sharing.time_slice_s"},
		{name: "slice over a second", table: "[sharing]\ntime_slice_s = 2\n", kind: tomlcheck.OutOfRange, key: "sharing.time_slice_s"},
		{name: "switch as long as the slice", table: "[sharing]\ntime_slice_s = 0.001\nswitch_s = 0.001\n", kind: tomlcheck.OutOfRange, key: "sharing.switch_s"},
		{name: "negative switch", table: "[sharing]\nswitch_s = -1e-6\n", kind: tomlcheck.OutOfRange, key: "sharing.switch_s"},
		{name: "contention above 1", table: "[sharing]\nmps_memory_contention = 1.5\n", kind: tomlcheck.OutOfRange, key: "sharing.mps_memory_contention"},
		{name: "negative compute contention", table: "[sharing]\nmps_compute_contention = -0.1\n", kind: tomlcheck.OutOfRange, key: "sharing.mps_compute_contention"},
		{name: "negative compute stderr", table: "[sharing]\nmps_compute_contention_stderr = -1\n", kind: tomlcheck.OutOfRange, key: "sharing.mps_compute_contention_stderr"},
		{name: "negative stderr", table: "[sharing]\nswitch_s_stderr = -1\n", kind: tomlcheck.OutOfRange, key: "sharing.switch_s_stderr"},
		{name: "unknown key", table: "[sharing]\ncompute_contention = 0.5\n", kind: tomlcheck.Unknown, key: "sharing.compute_contention"},
		{name: "nan", table: "[sharing]\nswitch_s = nan\n", kind: tomlcheck.OutOfRange, key: "sharing.switch_s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseProfile("p.toml", []byte(sharingBase+c.table))
			if c.kind != 0 {
				if !tomlcheck.Has(err, c.kind) || !strings.Contains(err.Error(), c.key) {
					t.Errorf("error %v, want kind %v at %s", err, c.kind, c.key)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.want == nil && p.Sharing != nil:
				t.Errorf("sharing %+v, want none", *p.Sharing)
			case c.want != nil && (p.Sharing == nil || *p.Sharing != *c.want):
				t.Errorf("sharing %+v, want %+v", p.Sharing, *c.want)
			}
		})
	}
}

// A profile's [sharing] table survives writing and reading back, and a
// profile without one writes none (the built-in profiles stay as they are).
func TestSharingRoundTrip(t *testing.T) {
	p, err := ParseProfile("p.toml", []byte(sharingBase))
	if err != nil {
		t.Fatal(err)
	}
	out, err := EncodeProfile(p, "test")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "[sharing]") {
		t.Errorf("a profile without [sharing] wrote one:\n%s", out)
	}
	s := Sharing{TimeSliceS: 0.01, SwitchS: 2e-4, SwitchSStdErr: 3e-5, MPSMemoryContention: 0.3, MPSMemoryContentionStdErr: 0.1,
		MPSComputeContention: 0.7, MPSComputeContentionStdErr: 0.2, Source: "fit"}
	p.Sharing = &s
	out, err = EncodeProfile(p, "test")
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseProfile("p.toml", out)
	if err != nil {
		t.Fatal(err)
	}
	if back.Sharing == nil || *back.Sharing != s {
		t.Errorf("read back %+v, want %+v", back.Sharing, s)
	}
}

func TestSharingDefaults(t *testing.T) {
	var none *Sharing
	def := none.OrDefault()
	if def != DefaultSharing() {
		t.Errorf("nil OrDefault = %+v, want the priors", def)
	}
	// The priors: additive MPS memory (the rule before sharing modes, so a
	// CPU host's calibration is unchanged), a switch of 50 µs in a 2 ms
	// slice: 2.5% of the GPU time lost to switching.
	if def.MPSMemoryContention != 1 || def.MPSComputeContention != 1 || def.TimeSliceS != 0.002 || def.SwitchS != 50e-6 {
		t.Errorf("priors %+v", def)
	}
	if got := def.SwitchShare(); got < 0.025-1e-15 || got > 0.025+1e-15 {
		t.Errorf("SwitchShare = %v, want 0.025", got)
	}
	if !strings.HasPrefix(def.Source, "prior:") || def.SwitchSStdErr != 0 || def.MPSMemoryContentionStdErr != 0 || def.MPSComputeContentionStdErr != 0 {
		t.Errorf("priors must say so and carry no standard errors: %+v", def)
	}
	if (Sharing{}).SwitchShare() != 0 {
		t.Error("a zero slice must not divide by zero")
	}
	s := &Sharing{TimeSliceS: 0.01, SwitchS: 1e-3}
	if s.OrDefault() != *s {
		t.Error("OrDefault must return the table as is")
	}
}
