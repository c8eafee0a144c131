package catalog

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// TestBuiltInMIG holds the built-in partitions to the rows of nvidia-smi
// mig -lgip and the MIG user guide's slices that docs/sources.md §5 quotes
// (the B200's 3g, 4g and 7g SMs and GiB are derived there), and keeps MIG
// off the devices that have none.
func TestBuiltInMIG(t *testing.T) {
	type row struct {
		name          string
		compute, mem  int
		sms, maxCount int
		gib           float64
	}
	tests := []struct {
		hw              string
		compute, memory int // the device's slices
		rows            []row
	}{
		{"a100-80gb", 7, 8, []row{{"1g.10gb", 1, 1, 14, 7, 9.5}, {"1g.20gb", 1, 2, 14, 4, 19.5}, {"2g.20gb", 2, 2, 28, 3, 19.5},
			{"3g.40gb", 3, 4, 42, 2, 39.25}, {"4g.40gb", 4, 4, 56, 1, 39.25}, {"7g.80gb", 7, 8, 98, 1, 79}}},
		{"h100-sxm", 7, 8, []row{{"1g.10gb", 1, 1, 16, 7, 9.75}, {"1g.20gb", 1, 2, 26, 4, 19.62}, {"2g.20gb", 2, 2, 32, 3, 19.62},
			{"3g.40gb", 3, 4, 60, 2, 39.5}, {"4g.40gb", 4, 4, 64, 1, 39.5}, {"7g.80gb", 7, 8, 132, 1, 79.25}}},
		{"h200", 7, 8, []row{{"1g.18gb", 1, 1, 16, 7, 16}, {"1g.35gb", 1, 2, 26, 4, 32.25}, {"2g.35gb", 2, 2, 32, 3, 32.25},
			{"3g.71gb", 3, 4, 60, 2, 69.5}, {"4g.71gb", 4, 4, 64, 1, 69.5}, {"7g.141gb", 7, 8, 132, 1, 139.75}}},
		{"b200", 7, 8, []row{{"1g.23gb", 1, 1, 18, 7, 22}, {"1g.45gb", 1, 2, 30, 4, 44.25}, {"2g.45gb", 2, 2, 36, 3, 44.25},
			{"3g.90gb", 3, 4, 54, 2, 88.5}, {"4g.90gb", 4, 4, 72, 1, 88.5}, {"7g.180gb", 7, 8, 148, 1, 177}}},
		{"rtx-pro-6000", 4, 4, []row{{"1g.24gb", 1, 1, 46, 4, 23.62}, {"2g.48gb", 2, 2, 94, 2, 47.38}, {"4g.96gb", 4, 4, 188, 1, 95.12}}},
		{"dgx-spark", 0, 0, nil},
		{"l40s", 0, 0, nil},
	}
	c := Default()
	for _, tt := range tests {
		t.Run(tt.hw, func(t *testing.T) {
			h, err := c.HardwareNamed(tt.hw)
			if err != nil {
				t.Fatal(err)
			}
			if h.MIGComputeSlices != tt.compute || h.MIGMemorySlices != tt.memory || len(h.MIG) != len(tt.rows) {
				t.Fatalf("%d GPU and %d memory slices, %d profiles; want %d, %d, %d", h.MIGComputeSlices, h.MIGMemorySlices, len(h.MIG), tt.compute, tt.memory, len(tt.rows))
			}
			for i, w := range tt.rows {
				got := h.MIG[i]
				want := MIGProfile{Name: w.name, ComputeSlices: w.compute, MemorySlices: w.mem, SMs: w.sms, MemoryGiB: w.gib, MaxCount: w.maxCount}
				if got != want {
					t.Errorf("profile %d = %+v, want %+v", i, got, want)
				}
			}
			// The whole-device profile has every slice and at most the
			// device's SMs and usable memory.
			if n := len(h.MIG); n > 0 {
				full := h.MIG[n-1]
				if full.ComputeSlices != h.MIGComputeSlices || full.MemorySlices != h.MIGMemorySlices || full.SMs > h.SMs || full.MemoryGiB > h.UsableMemoryGiB {
					t.Errorf("%s %+v does not fill the device (%d SMs, %v GiB usable)", h.Name, full, h.SMs, h.UsableMemoryGiB)
				}
			}
		})
	}
}

func TestMIGProfileNamed(t *testing.T) {
	c := Default()
	h100, _ := c.HardwareNamed("h100-sxm")
	spark, _ := c.HardwareNamed("dgx-spark")
	tests := []struct {
		hw   Hardware
		name string
		want string // the profile, or a substring of the error
		ok   bool
	}{
		{h100, "3g.40gb", "3g.40gb", true},
		{h100, "3g.40GB", "h100-sxm has no MIG profile \"3g.40GB\"; valid: 1g.10gb, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb", false},
		{h100, "1g.10gb+me", "no MIG profile \"1g.10gb+me\"", false},
		{spark, "1g.10gb", "dgx-spark has no MIG partitions", false},
	}
	for _, tt := range tests {
		p, err := tt.hw.MIGProfileNamed(tt.name)
		switch {
		case tt.ok && (err != nil || p.Name != tt.want):
			t.Errorf("%s %s: %+v, %v; want %s", tt.hw.Name, tt.name, p, err, tt.want)
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s %s: error %v, want one containing %q", tt.hw.Name, tt.name, err, tt.want)
		}
	}
}

// TestPartition: a partition keeps the share of the device its profile
// has. Tensor peaks scale by its SMs, bandwidth by its memory slices,
// memory is the profile's. Power, heat and price stay the device's, and
// the device itself is left unchanged.
func TestPartition(t *testing.T) {
	c := Default()
	tests := []struct {
		hw, profile string
		sms         int
		smShare     float64 // of the tensor peaks
		bwShare     float64 // of the bandwidth
		gib, usable float64
	}{
		{"h100-sxm", "3g.40gb", 60, 60.0 / 132, 4.0 / 8, 39.5, 39.5},
		{"h100-sxm", "1g.10gb", 16, 16.0 / 132, 1.0 / 8, 9.75, 9.75},
		{"h100-sxm", "1g.20gb", 26, 26.0 / 132, 2.0 / 8, 19.62, 19.62},
		{"h100-sxm", "7g.80gb", 132, 1, 1, 79.25, 79.25},
		{"a100-80gb", "7g.80gb", 98, 98.0 / 108, 1, 79, 79}, // MIG leaves 10 of the A100's SMs idle
		{"b200", "4g.90gb", 72, 72.0 / 148, 4.0 / 8, 88.5, 88.5},
		{"rtx-pro-6000", "2g.48gb", 94, 94.0 / 188, 2.0 / 4, 47.38, 47.38},
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	for _, tt := range tests {
		t.Run(tt.hw+"/"+tt.profile, func(t *testing.T) {
			h, _ := c.HardwareNamed(tt.hw)
			p, err := h.MIGProfileNamed(tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			before := h.MIG[0]
			q := h.Partition(p)
			for _, f := range []struct {
				name      string
				got, want float64
			}{
				{"tflops_bf16", q.TFLOPSBF16, h.TFLOPSBF16 * tt.smShare},
				{"measured_tflops_bf16", q.MeasuredTFLOPSBF16, h.MeasuredTFLOPSBF16 * tt.smShare},
				{"tflops_fp8", q.TFLOPSFP8, h.TFLOPSFP8 * tt.smShare},
				{"tflops_int8", q.TFLOPSInt8, h.TFLOPSInt8 * tt.smShare},
				{"tflops_fp4", q.TFLOPSFP4, h.TFLOPSFP4 * tt.smShare},
				{"FLOPS(bf16)", q.FLOPS("bf16"), h.FLOPS("bf16") * tt.smShare},
				{"memory_bandwidth_gbs", q.MemoryBandwidthGBs, h.MemoryBandwidthGBs * tt.bwShare},
				{"memory_gib", q.MemoryGiB, tt.gib},
				{"usable_memory_gib", q.UsableMemoryGiB, tt.usable},
				{"power_limit_w", q.PowerLimitW, h.PowerLimitW},
				{"idle_power_w", q.IdlePowerW, h.IdlePowerW},
				{"price_usd", q.PriceUSD, h.PriceUSD},
			} {
				if !near(f.got, f.want) {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
			if q.SMs != tt.sms || q.MIG != nil || q.Name != h.Name || q.DisplayName != h.DisplayName+" MIG "+tt.profile {
				t.Errorf("partition %d SMs, MIG %v, name %q, display %q", q.SMs, q.MIG, q.Name, q.DisplayName)
			}
			if h.MIG[0] != before || len(h.MIG) == 0 {
				t.Error("Partition changed the device's profiles")
			}
		})
	}
	// A profile that claims more than the engines may allocate on the
	// whole device is held to the device's usable memory.
	h, _ := c.HardwareNamed("h100-sxm")
	if q := h.Partition(MIGProfile{Name: "big", ComputeSlices: 7, MemorySlices: 8, SMs: 132, MemoryGiB: 80, MaxCount: 1}); q.UsableMemoryGiB != h.UsableMemoryGiB || q.MemoryGiB != 80 {
		t.Errorf("80 GiB profile: usable %v, memory %v; want the device's usable %v", q.UsableMemoryGiB, q.MemoryGiB, h.UsableMemoryGiB)
	}
}

// migBox is a catalog entry with two well-formed partitions; each case of
// TestMIGErrors breaks one field of it.
const migBox = `[hardware.box]
usable_memory_gib = 79
memory_gib = 80
memory_bandwidth_gbs = 3000
sms = 132
tflops_bf16 = 900
power_limit_w = 700
mig_compute_slices = 7
mig_memory_slices = 8
[[hardware.box.mig]]
name = "1g.10gb"
compute_slices = 1
memory_slices = 1
sms = 16
memory_gib = 9.75
max_count = 7
[[hardware.box.mig]]
name = "3g.40gb"
compute_slices = 3
memory_slices = 4
sms = 60
memory_gib = 39.5
max_count = 2
`

// TestMIGErrors: each malformed partition is reported at its line and
// field (hardware.box.mig[1].sms), with the kind a caller tests.
func TestMIGErrors(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		field    string
		kind     tomlcheck.Kind
		want     string // the whole "file:line: field: message", or its start
	}{
		{"zero SMs", "sms = 60", "sms = 0", "hardware.box.mig[1].sms", tomlcheck.OutOfRange, "bad.toml:21: hardware.box.mig[1].sms: must be positive, got 0"},
		{"SMs over the device's", "sms = 60", "sms = 200", "hardware.box.mig[1].sms", tomlcheck.OutOfRange, "bad.toml:21: hardware.box.mig[1].sms: must not exceed the device's sms (132), got 200"},
		{"GPU slices over", "compute_slices = 3", "compute_slices = 8", "hardware.box.mig[1].compute_slices", tomlcheck.OutOfRange,
			"bad.toml:19: hardware.box.mig[1].compute_slices: must not exceed the device's mig_compute_slices (7), got 8"},
		{"memory slices over", "memory_slices = 4", "memory_slices = 9", "hardware.box.mig[1].memory_slices", tomlcheck.OutOfRange,
			"bad.toml:20: hardware.box.mig[1].memory_slices: must not exceed the device's mig_memory_slices (8), got 9"},
		{"negative memory slices", "memory_slices = 4", "memory_slices = -4", "hardware.box.mig[1].memory_slices", tomlcheck.OutOfRange, "bad.toml:20: hardware.box.mig[1].memory_slices: must be positive"},
		{"memory over the device's", "memory_gib = 39.5", "memory_gib = 90", "hardware.box.mig[1].memory_gib", tomlcheck.OutOfRange,
			"bad.toml:22: hardware.box.mig[1].memory_gib: must not exceed the device's memory_gib (80 GiB), got 90 GiB"},
		{"memory over the usable, no nominal", "usable_memory_gib = 79\nmemory_gib = 80\n", "usable_memory_gib = 30\n", "hardware.box.mig[1].memory_gib", tomlcheck.OutOfRange,
			"bad.toml:21: hardware.box.mig[1].memory_gib: must not exceed the device's usable_memory_gib (30 GiB), got 39.5 GiB"},
		{"no memory", "memory_gib = 39.5\n", "", "hardware.box.mig[1].memory_gib", tomlcheck.OutOfRange, "bad.toml:17: hardware.box.mig[1].memory_gib: must be positive, got 0"},
		{"nan memory", "memory_gib = 39.5", "memory_gib = nan", "hardware.box.mig[1].memory_gib", tomlcheck.OutOfRange, "bad.toml:22: hardware.box.mig[1].memory_gib: must be a finite number"},
		{"zero max count", "max_count = 2", "max_count = 0", "hardware.box.mig[1].max_count", tomlcheck.OutOfRange, "bad.toml:23: hardware.box.mig[1].max_count: must be positive, got 0"},
		{"max count over the slices", "max_count = 2", "max_count = 3", "hardware.box.mig[1].max_count", tomlcheck.Invalid,
			"bad.toml:23: hardware.box.mig[1].max_count: 3 × 3g.40gb takes 9 of 7 GPU slices and 12 of 8 memory slices: more than the device has"},
		{"huge max count", "max_count = 2", "max_count = 4611686018427387904", "hardware.box.mig[1].max_count", tomlcheck.OutOfRange,
			"bad.toml:23: hardware.box.mig[1].max_count: must not exceed the device's mig_compute_slices (7), got 4611686018427387904"},
		{"duplicate name", `name = "3g.40gb"`, `name = "1g.10gb"`, "hardware.box.mig[1].name", tomlcheck.Invalid, "bad.toml:18: hardware.box.mig[1].name: duplicate MIG profile \"1g.10gb\""},
		{"no name", "name = \"3g.40gb\"\n", "", "hardware.box.mig[1].name", tomlcheck.Missing, "bad.toml:17: hardware.box.mig[1].name: required field is missing"},
		{"no GPU slices", "mig_compute_slices = 7\n", "", "hardware.box.mig_compute_slices", tomlcheck.Missing, "bad.toml:1: hardware.box.mig_compute_slices: required with MIG partitions"},
		{"no memory slices", "mig_memory_slices = 8\n", "", "hardware.box.mig_memory_slices", tomlcheck.Missing, "bad.toml:1: hardware.box.mig_memory_slices: required with MIG partitions"},
		{"zero memory slices", "mig_memory_slices = 8", "mig_memory_slices = 0", "hardware.box.mig_memory_slices", tomlcheck.OutOfRange, "bad.toml:9: hardware.box.mig_memory_slices: must be in [1, 64], got 0"},
		{"too many slices", "mig_compute_slices = 7", "mig_compute_slices = 1000", "hardware.box.mig_compute_slices", tomlcheck.OutOfRange, "bad.toml:8: hardware.box.mig_compute_slices: must be in [1, 64], got 1000"},
		{"no device SMs", "sms = 132\n", "", "hardware.box.sms", tomlcheck.Missing,
			"bad.toml:1: hardware.box.sms: required with MIG partitions: a partition's tensor peaks scale by its share of the SMs"},
		{"slices without partitions", migBox[strings.Index(migBox, "[[hardware.box.mig]]"):], "", "hardware.box.mig_compute_slices", tomlcheck.Invalid,
			"bad.toml:8: hardware.box.mig_compute_slices: only allowed with MIG partitions ([[hardware.box.mig]])"},
		{"unknown key", "max_count = 2", "max_count = 2\nsmz = 60", "hardware.box.mig.smz", tomlcheck.Unknown, "bad.toml:24: hardware.box.mig.smz: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(migBox, tt.old) {
				t.Fatalf("migBox has no %q", tt.old)
			}
			src := migBox
			if i := strings.LastIndex(src, tt.old); i >= 0 {
				src = src[:i] + tt.new + src[i+len(tt.old):] // the last: the second partition's
			}
			_, err := Parse("bad.toml", []byte(src))
			var l ErrorList
			if !errors.As(err, &l) {
				t.Fatalf("error %v, want an ErrorList", err)
			}
			var e *FieldError
			for _, x := range l {
				if x.Field == tt.field {
					e = x
					break
				}
			}
			if e == nil {
				t.Fatalf("no problem at %s in\n%v", tt.field, err)
			}
			if e.Kind != tt.kind {
				t.Errorf("%s: kind %v, want %v", e, e.Kind, tt.kind)
			}
			if !strings.HasPrefix(e.Error(), tt.want) {
				t.Errorf("error\n%s\ndoes not start with\n%s", e, tt.want)
			}
		})
	}
	c, err := Parse("good.toml", []byte(migBox))
	if err != nil {
		t.Fatalf("good MIG entry: %v", err)
	}
	if h := c.Hardware["box"]; len(h.MIG) != 2 || h.MIG[1] != (MIGProfile{"3g.40gb", 3, 4, 60, 39.5, 2}) {
		t.Errorf("decoded %+v", h.MIG)
	}
}
