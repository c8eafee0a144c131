package catalog

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParamsMatchPublished checks the parameter counts derived from the
// architecture against the totals on the Qwen model cards.
func TestParamsMatchPublished(t *testing.T) {
	c := Default()
	tests := []struct {
		model          string
		total, active  float64 // billions, as published on the model card
		digitsAccuracy float64 // the card's precision
	}{
		{"qwen3-0.6b", 0.6, 0.6, 0.05},
		{"qwen3-1.7b", 1.7, 1.7, 0.05},
		{"qwen3-4b", 4.0, 4.0, 0.05},
		{"qwen3-8b", 8.19, 8.19, 0.005},
		{"qwen3-14b", 14.77, 14.77, 0.005},
		{"qwen3-32b", 32.76, 32.76, 0.005},
		{"qwen3-30b-a3b", 30.53, 3.35, 0.005},
		{"qwen3-235b-a22b", 235.1, 22.2, 0.05},
		{"qwen2.5-7b", 7.62, 7.62, 0.005},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			m, err := c.Model(tt.model)
			if err != nil {
				t.Fatal(err)
			}
			total, active := float64(m.Params())/1e9, float64(m.ActiveParams())/1e9
			if math.Abs(total-tt.total) > tt.digitsAccuracy {
				t.Errorf("Params = %.4fB, want %.4gB", total, tt.total)
			}
			if math.Abs(active-tt.active) > tt.digitsAccuracy {
				t.Errorf("ActiveParams = %.4fB, want %.4gB", active, tt.active)
			}
		})
	}
}

// TestNonEmbeddingParams checks the "Non-Embedding" counts the Qwen3 model
// cards publish, which pin the layer arithmetic independently of the vocab.
func TestNonEmbeddingParams(t *testing.T) {
	c := Default()
	for _, tt := range []struct {
		model string
		want  float64 // billions
		tol   float64
	}{
		{"qwen3-0.6b", 0.44, 0.005}, {"qwen3-1.7b", 1.4, 0.05}, {"qwen3-4b", 3.6, 0.05},
		{"qwen3-8b", 6.95, 0.005}, {"qwen3-14b", 13.2, 0.05}, {"qwen3-32b", 31.2, 0.05},
		{"qwen3-30b-a3b", 29.9, 0.05}, {"qwen3-235b-a22b", 234, 0.5},
	} {
		m, _ := c.Model(tt.model)
		emb := m.EmbeddingParams()
		if !m.TieWordEmbeddings {
			emb += m.LMHeadParams()
		}
		if got := float64(m.Params()-emb) / 1e9; math.Abs(got-tt.want) > tt.tol {
			t.Errorf("%s: non-embedding params = %.3fB, want %gB", tt.model, got, tt.want)
		}
	}
}

// TestEveryQwen3Size makes sure the catalog has each published Qwen3 size
// and no invented ones.
func TestEveryQwen3Size(t *testing.T) {
	c := Default()
	for _, n := range []string{"qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b", "qwen3-32b", "qwen3-30b-a3b", "qwen3-235b-a22b"} {
		m, err := c.Model(n)
		if err != nil {
			t.Fatal(err)
		}
		if m.HeadDim != 128 || m.VocabSize != 151936 {
			t.Errorf("%s: head_dim %d vocab %d, want 128 and 151936", n, m.HeadDim, m.VocabSize)
		}
	}
	_, err := c.Model("qwen3-7b")
	var un *UnknownNameError
	if !errors.As(err, &un) {
		t.Fatalf("Model(qwen3-7b) error = %v, want *UnknownNameError", err)
	}
	if !strings.Contains(err.Error(), "nearest is qwen3-8b") || !strings.Contains(err.Error(), "qwen3-14b") {
		t.Errorf("error %q should point at qwen3-8b and list the valid names", err)
	}
}

func TestKVBytesPerToken(t *testing.T) {
	c := Default()
	m, _ := c.Model("qwen3-8b")
	kv, _ := c.KVType("fp16")
	// 36 layers × (K and V) × 8 heads × 128 dims × 2 bytes.
	if got, want := m.KVBytesPerToken(kv), 36.0*2*8*128*2; got != want {
		t.Errorf("KVBytesPerToken = %v, want %v", got, want)
	}
}

func TestModelNamesAreCaseInsensitive(t *testing.T) {
	if _, err := Default().Model("Qwen3-14B"); err != nil {
		t.Fatal(err)
	}
}

func TestHardwareFLOPSFallback(t *testing.T) {
	c := Default()
	h100, _ := c.HardwareNamed("h100-sxm")
	if got, want := h100.FLOPS("fp4"), h100.TFLOPSBF16*1e12; got != want {
		t.Errorf("H100 has no FP4: FLOPS(fp4) = %v, want the BF16 peak %v (W4A16 kernels)", got, want)
	}
	spark, _ := c.HardwareNamed("dgx-spark")
	if got, want := spark.FLOPS("fp4"), 500e12; got != want {
		t.Errorf("Spark FLOPS(fp4) = %v, want %v", got, want)
	}
}

// TestParseErrors feeds broken catalogs and checks each error names the
// file, the line and the field.
func TestParseErrors(t *testing.T) {
	const good = `
[models.tiny]
layers = 2
hidden_size = 64
intermediate_size = 128
attention_heads = 4
kv_heads = 2
head_dim = 16
vocab_size = 1000
max_position_embeddings = 512
`
	tests := []struct {
		name string
		src  string
		want []string // substrings of the error
	}{
		{"syntax", "[models.x\nlayers = 1\n", []string{"bad.toml:2", "end table name"}},
		{"type", good + "rope_theta = \"big\"\n", []string{"bad.toml:11: models.tiny.rope_theta: incompatible types"}},
		{"unknown key", good + "layer = 3\n", []string{"bad.toml:11: models.tiny.layer: unknown field"}},
		{"missing field", strings.Replace(good, "vocab_size = 1000\n", "", 1), []string{"bad.toml:2", "models.tiny.vocab_size", "required field is missing"}},
		{"negative", strings.Replace(good, "layers = 2", "layers = -2", 1), []string{"bad.toml:3", "models.tiny.layers", "must be positive"}},
		{"kv heads", strings.Replace(good, "kv_heads = 2", "kv_heads = 3", 1), []string{"bad.toml:7", "kv_heads", "must divide attention_heads"}},
		{"moe field on dense", good + "experts_per_token = 2\n", []string{"bad.toml:11", "only allowed with experts > 0"}},
		{"too many experts per token", good + "experts = 4\nexperts_per_token = 8\nexpert_intermediate_size = 32\n", []string{"bad.toml:12", "must not exceed experts"}},
		{"hardware", "[hardware.box]\nusable_memory_gib = 10\nmemory_gib = 8\nmemory_bandwidth_gbs = 100\ntflops_bf16 = 1\npower_limit_w = 50\nidle_power_w = 60\n",
			[]string{"bad.toml:2: hardware.box.usable_memory_gib: exceeds memory_gib", "bad.toml:7: hardware.box.idle_power_w"}},
		{"format dtype", "[formats.q2]\nbits_per_weight = 2.5\ncompute = \"int4\"\n", []string{"bad.toml:3", "formats.q2.compute", "unknown compute dtype"}},
		{"quoted key", strings.Replace(good, "[models.tiny]", "[models.\"tiny.v2\"]", 1) + "extra = 1\n", []string{"bad.toml:11", "extra"}},
		// Issue 11: non-finite and absurd values, and input that exhausted the decoder.
		{"nan", good + "rope_theta = nan\n", []string{"bad.toml:11: models.tiny.rope_theta: must be a finite number"}},
		{"inf bandwidth", "[hardware.box]\nusable_memory_gib = 10\nmemory_bandwidth_gbs = inf\ntflops_bf16 = 1\npower_limit_w = 50\n", []string{"bad.toml:3: hardware.box.memory_bandwidth_gbs: must be a finite number"}},
		{"1e300 memory", "[hardware.box]\nusable_memory_gib = 1e300\nmemory_bandwidth_gbs = 100\ntflops_bf16 = 1\npower_limit_w = 50\n", []string{"bad.toml:2: hardware.box.usable_memory_gib: must be at most 1e+09"}},
		{"huge layers", strings.Replace(good, "layers = 2", "layers = 100000000000", 1), []string{"bad.toml:3: models.tiny.layers: must be at most 1048576"}},
		{"deep nesting", good + "x = " + strings.Repeat("[", 100000) + "\n", []string{"bad.toml:11: arrays and inline tables nest deeper than 32 levels"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.toml", []byte(tt.src))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := Parse("good.toml", []byte(good)); err != nil {
		t.Fatalf("good catalog: %v", err)
	}
}

// TestErrorsAreCollected: one pass reports every problem, not just the first.
func TestErrorsAreCollected(t *testing.T) {
	src := "[models.a]\nlayers = -1\n[models.b]\nlayers = 0\n"
	_, err := Parse("x.toml", []byte(src))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error type %T, want ErrorList", err)
	}
	if len(list) < 10 {
		t.Fatalf("got %d errors, want every missing and invalid field of both models:\n%v", len(list), err)
	}
	for i := 1; i < len(list); i++ {
		if list[i-1].Line > list[i].Line {
			t.Fatalf("errors not sorted by line:\n%v", err)
		}
	}
}

func TestLoadOverrides(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "site.toml")
	override := `
[hardware.dgx-spark]
display_name = "Spark at our site"
usable_memory_gib = 119.7
memory_bandwidth_gbs = 273
tflops_bf16 = 125
power_limit_w = 140
price_usd = 3999

[formats.q3_k_m]
bits_per_weight = 3.9
compute = "int8"
`
	if err := os.WriteFile(p, []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := c.HardwareNamed("dgx-spark")
	if h.PriceUSD != 3999 || h.DisplayName != "Spark at our site" {
		t.Errorf("override not applied: %+v", h)
	}
	if _, err := c.Format("q3_k_m"); err != nil {
		t.Errorf("added format missing: %v", err)
	}
	if _, err := c.Model("qwen3-8b"); err != nil {
		t.Errorf("built-in entries lost: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("Load of a missing file: error %v, want one naming the file", err)
	}
}

// FuzzParse: no input may panic the loader, and anything it accepts must
// be internally consistent enough to compute with.
func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("../models.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("[models.x]\nlayers = 1\n"))
	f.Add([]byte("[hardware.h]\nusable_memory_gib = 1e400\n"))
	f.Add([]byte("a = [\n[b]\n"))
	f.Add([]byte("[models.x]\nlayers = nan\nrope_theta = inf\n"))
	f.Add([]byte("[models.x]\nlayers = 99999999999999\nhidden_size = 1e308\n"))
	f.Add([]byte("x = " + strings.Repeat("{a = ", 40) + "1" + strings.Repeat("}", 40)))
	f.Add([]byte(strings.Repeat("a.", 40) + "a = 1\n"))
	f.Add([]byte(`[models."a.b"]` + "\nexperts = 3\nexperts_per_token = 4\n"))
	f.Add([]byte("[models.x.vision]\nlayers = 16384\nhidden_size = 16384\nspatial_merge_size = 64\npatch_size = 64\n"))
	f.Add([]byte("[models.x]\nsliding_window = 9999999999\nsliding_window_layers = -1\nexpert_format = \"x\"\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse("fuzz.toml", src)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for n, m := range c.Models {
			if m.Params() <= 0 || m.ActiveParams() > m.Params() {
				t.Fatalf("model %s accepted with params %d, active %d", n, m.Params(), m.ActiveParams())
			}
		}
		for n, h := range c.Hardware {
			if !(h.FLOPS("bf16") > 0) || !(h.BandwidthBytesPerSecond() > 0) {
				t.Fatalf("hardware %s accepted without peaks", n)
			}
		}
	})
}

// A file with thousands of problems reports the first hundred and a count,
// not a message of megabytes (issue 11).
func TestErrorListIsBounded(t *testing.T) {
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "x%d = 1\n", i)
	}
	_, err := Parse("many.toml", []byte(b.String()))
	if err == nil {
		t.Fatal("Parse accepted 5000 unknown fields")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 101 || lines[100] != "... and 4900 more problems" || !strings.HasPrefix(lines[0], "many.toml:1: x0: unknown field") {
		t.Errorf("%d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
}

// Extend adds a file's entries to a copy: the catalog extended keeps
// only its own entries (a dashboard's catalog does not grow with each
// plan), and a broken file names itself.
func TestExtendLeavesTheBaseAlone(t *testing.T) {
	base := Default()
	n := len(base.Hardware)
	ext, err := base.Extend("extra.toml", []byte(`
[hardware.bench-cpu]
display_name = "a bench CPU"
memory_gib = 8
usable_memory_gib = 6
memory_bandwidth_gbs = 20
sms = 2
compute_units = 2
tflops_bf16 = 0.1
tflops_fp8 = 0.1
tflops_int8 = 0.1
tflops_fp4 = 0
power_limit_w = 35
idle_power_w = 5
slowdown_temp_c = 90
shutdown_temp_c = 100
price_usd = 500
cloud_usd_per_hour = 0.02
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ext.HardwareNamed("bench-cpu"); err != nil {
		t.Errorf("extended: %v", err)
	}
	if _, err := ext.HardwareNamed("h100-sxm"); err != nil {
		t.Errorf("extended lost the built-in entries: %v", err)
	}
	if _, err := base.HardwareNamed("bench-cpu"); err == nil || len(base.Hardware) != n {
		t.Errorf("the base catalog grew: %d entries, was %d", len(base.Hardware), n)
	}
	if _, err := base.Extend("broken.toml", []byte("[hardware.x]\nmemory_gib = \"lots\"\n")); err == nil || !strings.Contains(err.Error(), "broken.toml") {
		t.Errorf("a broken file: %v, want an error naming it", err)
	}
}
