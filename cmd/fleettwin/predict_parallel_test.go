package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPredictTP8OnHGX: Qwen3-235B-A22B in FP8, which no single H100
// holds, fits the eight H100s of an HGX node at TP8 and predicts its
// steps; the JSON says the node, the layout and the collectives' time.
func TestPredictTP8OnHGX(t *testing.T) {
	out, stderr, code := fleettwin(t, "predict", "--hardware", "hgx-h100-8", "--engine", "vllm", "--model", "qwen3-235b-a22b", "--quant", "fp8", "--tp", "8", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep PredictReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	n, m := rep.Node, rep.Models[0]
	if n == nil || n.Type != "hgx-h100-8" || n.Devices != 8 || n.TP != 8 || n.LayoutDevs != 8 || n.Interconnect != "nvlink4-nvswitch" || !(n.DecodeCommS > 0) {
		t.Errorf("node %+v", n)
	}
	if !rep.Memory.Fits || !(m.TTFT > 0 && m.TPOT > 0 && m.TPOT < 0.1) || !(m.KVTokenCapacity > 100000) {
		t.Errorf("memory %+v, model %+v", rep.Memory, m)
	}
	single, _, _ := fleettwin(t, "predict", "--hardware", "h100-sxm", "--engine", "vllm", "--model", "qwen3-235b-a22b", "--quant", "fp8")
	if !strings.Contains(single, "fits: NO") {
		t.Errorf("one H100 holds Qwen3-235B-A22B FP8?\n%s", single)
	}
	text, _, _ := fleettwin(t, "predict", "--hardware", "hgx-h100-8", "--engine", "vllm", "--model", "qwen3-235b-a22b", "--quant", "fp8", "--tp", "8")
	for _, want := range []string{"hgx-h100-8 (8 × h100-sxm over nvlink4-nvswitch)", "layout: tp 8 · pp 1 · ep 1 on 8 devices", "fits: yes"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

// TestPredictLayoutErrors: a layout the node or the model cannot take is
// a usage error naming the flag.
func TestPredictLayoutErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"tp on one device", []string{"--hardware", "h100-sxm", "--model", "qwen3-8b", "--quant", "fp8", "--tp", "2"},
			"--tp 2 × --pp 1 needs 2 devices, and h100-sxm has 1 (use a node type of it as --hardware: hgx-h100-8 (8))"},
		{"tp over the node", []string{"--hardware", "l40s-pcie-4", "--model", "qwen3-8b", "--quant", "fp8", "--tp", "8"}, "and l40s-pcie-4 has 4"},
		{"tp not dividing the heads", []string{"--hardware", "hgx-h100-8", "--model", "qwen3-8b", "--quant", "fp8", "--tp", "3"},
			"--tp: must divide qwen3-8b's 32 attention heads, got 3"},
		{"ep on a dense model", []string{"--hardware", "hgx-h100-8", "--model", "qwen3-8b", "--quant", "fp8", "--tp", "2", "--ep", "2"}, "--ep: expert parallelism needs a MoE model"},
		{"zero tp", []string{"--hardware", "hgx-h100-8", "--model", "qwen3-8b", "--tp", "0"}, "--tp must be in [1, 72], got 0"},
		{"co-located in a layout", []string{"--hardware", "hgx-h100-8", "--model", "qwen3-8b,qwen3-14b", "--quant", "fp8", "--tp", "2"}, "predicts one --model"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := fleettwin(t, append([]string{"predict", "--engine", "vllm"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

// TestSimulateQwen32BOnTwoL40S: a scenario with Qwen3-32B in bf16 over two
// L40S (tp = 2) of a PCIe server runs and reports the node's four devices.
func TestSimulateQwen32BOnTwoL40S(t *testing.T) {
	src := `name = "l40s-tp2"
seed = 3
duration_s = 300
warmup_s = 30
[models.qwen3-32b.workload.arrival]
process = "poisson"
rate = 0.3
[models.qwen3-32b.workload.input]
dist = "fixed"
value = 1024
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
	p := filepath.Join(t.TempDir(), "l40s.toml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(t.TempDir(), "result.json")
	_, stderr, code := fleettwin(t, "simulate", p, "--json", js, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{`"devices": 4`, `"node_type": "l40s-pcie-4"`, `"hardware": "l40s"`} {
		if !strings.Contains(out, want) {
			t.Errorf("simulate --json lacks %s:\n%.2000s", want, out)
		}
	}
}

// TestPredictExpertFormat: gpt-oss-20b in MXFP4 under llama.cpp keeps its
// routed experts in MXFP4 and the rest in the GGUF's Q8_0
// (catalog.WeightFormats): the report names both, counts the weight bytes
// of each part in its format, and says the MXFP4 experts rest on a prior
// next to the profile's line. A model in one format shows none of it.
func TestPredictExpertFormat(t *testing.T) {
	args := []string{"predict", "--hardware", "dgx-spark", "--engine", "llama.cpp", "--model", "gpt-oss-20b", "--quant", "mxfp4"}
	out, stderr, code := fleettwin(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep PredictReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	m := rep.Models[0]
	if m.Quant != "mxfp4" || m.DenseFormat != "q8_0" || m.ExpertFormat != "mxfp4" {
		t.Errorf("quant %q, dense %q, experts %q; want mxfp4, q8_0, mxfp4", m.Quant, m.DenseFormat, m.ExpertFormat)
	}
	e, err := loadEnv(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cm, _ := e.cat.Model("gpt-oss-20b")
	q8, _ := e.cat.Format("q8_0")
	fp4, _ := e.cat.Format("mxfp4")
	experts := float64(cm.Layers) * float64(cm.Experts) * float64(cm.ExpertParams())
	want := (float64(cm.WeightParams())-experts)*q8.BitsPerWeight/8 + experts*fp4.BitsPerWeight/8
	if d := m.WeightBytes - want; d > 1 || d < -1 {
		t.Errorf("weight bytes %.0f, want %.0f (Q8_0 dense, MXFP4 experts)", m.WeightBytes, want)
	}
	if len(m.FormatPriors) != 1 || !strings.HasPrefix(m.FormatPriors[0], "mxfp4 experts: prior (fp4_compute_rel not fitted") {
		t.Errorf("format priors %q", m.FormatPriors)
	}
	text, _, _ := fleettwin(t, args...)
	for _, line := range []string{"gpt-oss-20b mxfp4: routed experts in mxfp4, every other weight in q8_0", "profile: llama.cpp on dgx-spark: ",
		"  gpt-oss-20b: mxfp4 experts: prior (fp4_compute_rel not fitted"} {
		if !hasLine(text, line) {
			t.Errorf("no line %q in:\n%s", line, text)
		}
	}
	plain, _, _ := fleettwin(t, "predict", "--hardware", "dgx-spark", "--engine", "llama.cpp", "--model", "qwen3-14b", "--quant", "q4_k_m", "--json")
	for _, key := range []string{"dense_format", "expert_format", "format_priors"} {
		if strings.Contains(plain, key) {
			t.Errorf("qwen3-14b in Q4_K_M has %s:\n%s", key, plain)
		}
	}
}
