package catalog

import (
	"math"
	"strings"
	"testing"
)

// TestGptOssParams checks gpt-oss-20b's counts against OpenAI's model card
// (20.9B total, 3.6B active; the card's table: 20.91B and 3.61B, the active
// count leaving out the embedding table, a lookup, as the catalog's
// ActiveParams does not) and its weights against the two published file
// sizes: 12.8 GiB as released (MXFP4 experts, the rest BF16) and llama-bench's
// 11.27 GiB for ggml-org's GGUF (the rest Q8_0).
func TestGptOssParams(t *testing.T) {
	c := Default()
	m, err := c.Model("gpt-oss-20b")
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol*want {
			t.Errorf("%s = %.4g, want %.4g within %g%%", what, got, want, 100*tol)
		}
	}
	near("Params (B)", float64(m.Params())/1e9, 20.91, 0.005)
	near("active params without the embedding table (B)", float64(m.ActiveParams()-m.EmbeddingParams())/1e9, 3.61, 0.005)
	// A hand count of one layer: q, k, v, o with their biases, 64 sinks;
	// two norms; the router and its bias; 32 experts of gate, up and down
	// with their biases.
	attn := int64(2880*4096 + 2*2880*512 + 4096*2880 + 4096 + 2*512 + 2880 + 64)
	expert := int64(3*2880*2880 + 2*2880 + 2880)
	if got := m.AttentionParams(); got != attn {
		t.Errorf("AttentionParams = %d, want %d", got, attn)
	}
	if got := m.ExpertParams(); got != expert {
		t.Errorf("ExpertParams = %d, want %d", got, expert)
	}
	if got, want := m.DenseLayerParams(), attn+2*2880+2880*32+32; got != want {
		t.Errorf("DenseLayerParams = %d, want %d", got, want)
	}
	experts := float64(m.Layers*m.Experts) * float64(expert)
	rest := float64(m.WeightParams()) - experts
	for _, tt := range []struct {
		engine string
		gib    float64
	}{{"vllm", 12.8}, {"llama.cpp", 11.27}} {
		dense, ex, err := c.WeightFormats(m, "mxfp4", tt.engine)
		if err != nil {
			t.Fatal(err)
		}
		got := (experts*ex.BitsPerWeight + rest*dense.BitsPerWeight) / 8 / (1 << 30)
		near(tt.engine+" weights (GiB)", got, tt.gib, 0.01)
	}
}

// TestQwen3VLText checks the VL model's text tower is Qwen3-32B's and its
// total the model card's 33.4B (the vision encoder adds 0.6B).
func TestQwen3VLText(t *testing.T) {
	c := Default()
	vl, _ := c.Model("qwen3-vl-32b")
	base, _ := c.Model("qwen3-32b")
	if vl.Vision == nil {
		t.Fatal("qwen3-vl-32b has no vision encoder")
	}
	if vl.ActiveParams() != base.ActiveParams() || vl.DenseLayerParams() != base.DenseLayerParams() || vl.LMHeadParams() != base.LMHeadParams() {
		t.Errorf("text tower: active %d, layer %d, head %d; Qwen3-32B's: %d, %d, %d",
			vl.ActiveParams(), vl.DenseLayerParams(), vl.LMHeadParams(), base.ActiveParams(), base.DenseLayerParams(), base.LMHeadParams())
	}
	if got := float64(vl.Params()) / 1e9; math.Abs(got-33.4) > 0.05 {
		t.Errorf("Params = %.3fB, want 33.4B", got)
	}
	if got := float64(vl.VisionParams()) / 1e9; got < 0.5 || got > 0.7 {
		t.Errorf("VisionParams = %.3fB, want 0.5-0.7B", got)
	}
	if vl.WeightParams() != vl.Params() {
		t.Errorf("WeightParams = %d, want every stored tensor, %d", vl.WeightParams(), vl.Params())
	}
}

func TestWeightFormats(t *testing.T) {
	c := Default()
	for _, tt := range []struct {
		model, quant, engine string
		dense, experts       string
	}{
		{"gpt-oss-20b", "mxfp4", "llama.cpp", "q8_0", "mxfp4"},
		{"gpt-oss-20b", "MXFP4", "ollama", "q8_0", "mxfp4"},
		{"gpt-oss-20b", "mxfp4", "vllm", "bf16", "mxfp4"},
		{"gpt-oss-20b", "bf16", "vllm", "bf16", "bf16"},
		{"qwen3-30b-a3b", "mxfp4", "llama.cpp", "mxfp4", "mxfp4"},
		{"qwen3-8b", "q4_k_m", "llama.cpp", "q4_k_m", "q4_k_m"},
	} {
		m, _ := c.Model(tt.model)
		d, e, err := c.WeightFormats(m, tt.quant, tt.engine)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != tt.dense || e.Name != tt.experts {
			t.Errorf("%s %s on %s: dense %s, experts %s; want %s, %s", tt.model, tt.quant, tt.engine, d.Name, e.Name, tt.dense, tt.experts)
		}
	}
	m, _ := c.Model("gpt-oss-20b")
	if _, _, err := c.WeightFormats(m, "int3", "vllm"); err == nil {
		t.Error("an unknown format was accepted")
	}
}

// TestKVBytesWindow: the windowed layers keep at most the window, so at
// depth gpt-oss keeps about half the KV of the same model without one.
func TestKVBytesWindow(t *testing.T) {
	c := Default()
	m, _ := c.Model("gpt-oss-20b")
	kv, _ := c.KVType("fp16")
	full := m
	full.SlidingWindow, full.SlidingWindowLayers = 0, 0
	perLayer := 2.0 * 8 * 64 * 2
	for _, tt := range []struct {
		tokens int
		want   float64
	}{
		{0, 0},
		{100, 24 * 100 * perLayer},                // inside the window: every layer keeps every token
		{128, 24 * 128 * perLayer},                //
		{16384, (12*16384 + 12*128) * perLayer},   // past it: the windowed 12 keep 128
		{131072, (12*131072 + 12*128) * perLayer}, //
	} {
		if got := m.KVBytes(kv, tt.tokens); got != tt.want {
			t.Errorf("KVBytes(%d) = %v, want %v", tt.tokens, got, tt.want)
		}
		if got, want := full.KVBytes(kv, tt.tokens), float64(tt.tokens)*full.KVBytesPerToken(kv); got != want {
			t.Errorf("without a window KVBytes(%d) = %v, want tokens x KVBytesPerToken = %v", tt.tokens, got, want)
		}
	}
	if r := m.KVBytes(kv, 16384) / full.KVBytes(kv, 16384); r < 0.5 || r > 0.51 {
		t.Errorf("windowed/full KV at 16K = %.4f, want just over one half", r)
	}
	if got := m.WindowedLayerShare(); got != 0.5 {
		t.Errorf("WindowedLayerShare = %v, want 0.5", got)
	}
}

func TestNativeFieldErrors(t *testing.T) {
	const moe = `
[models.tiny]
layers = 2
hidden_size = 64
intermediate_size = 0
attention_heads = 4
kv_heads = 2
head_dim = 16
vocab_size = 1000
max_position_embeddings = 512
experts = 4
experts_per_token = 2
expert_intermediate_size = 32
`
	dense := strings.Replace(strings.Replace(moe, "experts = 4\nexperts_per_token = 2\nexpert_intermediate_size = 32\n", "", 1), "intermediate_size = 0", "intermediate_size = 128", 1)
	for _, tt := range []struct {
		name, src, want string
	}{
		{"window without layers", moe + "sliding_window = 128\n", "models.tiny.sliding_window_layers: required with sliding_window"},
		{"layers without window", moe + "sliding_window_layers = 1\n", "models.tiny.sliding_window: required with sliding_window_layers"},
		{"too many windowed layers", moe + "sliding_window = 128\nsliding_window_layers = 3\n", "sliding_window_layers: must be in [1, layers (2)], got 3"},
		{"zero window", moe + "sliding_window = 0\nsliding_window_layers = 1\n", "sliding_window: must be in [1,"},
		{"expert format on dense", dense + "expert_format = \"mxfp4\"\n", "expert_format: only allowed with experts > 0"},
		{"expert bias on dense", dense + "expert_bias = true\n", "expert_bias: only allowed with experts > 0"},
		{"dense format alone", moe + "dense_format = \"bf16\"\n", "dense_format: only allowed with expert_format"},
		{"vision size", moe + "[models.tiny.vision]\nlayers = 2\nhidden_size = -1\nintermediate_size = 8\nin_channels = 3\npatch_size = 2\ntemporal_patch_size = 1\nspatial_merge_size = 1\nposition_embeddings = 4\nout_hidden_size = 64\n", "models.tiny.vision.hidden_size: must be positive"},
		{"vision missing", moe + "[models.tiny.vision]\nlayers = 2\n", "models.tiny.vision.hidden_size: required field is missing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.toml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	c, err := Parse("ref.toml", []byte(moe+"expert_format = \"int3\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	d.Merge(c)
	if err := d.checkRefs(); err == nil || !strings.Contains(err.Error(), "models.tiny.expert_format: no [formats.int3]") {
		t.Errorf("checkRefs = %v, want the unknown expert format named", err)
	}
}
