package perf

import (
	"math"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
)

// nativeStepModel builds a step model whose formats come from
// catalog.WeightFormats for the profile's engine, as bench rows do.
func nativeStepModel(t testing.TB, hw, model, quant, kv string, p Profile) *StepModel {
	t.Helper()
	h, _ := cat.HardwareNamed(hw)
	m, err := cat.Model(model)
	if err != nil {
		t.Fatal(err)
	}
	d, e, err := cat.WeightFormats(m, quant, p.Engine)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := cat.KVType(kv)
	s, err := NewStepModel(h, Instance{Model: m, Weights: d, Experts: e, KV: k}, p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSlidingWindowTerms: at depth gpt-oss's attention work and KV reads
// are the full-attention half of its layers at the whole context plus the
// windowed half at 128 tokens, a little over half of the same model
// without a window; inside the window they are the same.
func TestSlidingWindowTerms(t *testing.T) {
	p := defaultProfile(t, "dgx-spark", "llama.cpp")
	swa := nativeStepModel(t, "dgx-spark", "gpt-oss-20b", "mxfp4", "fp16", p)
	noWindow := swa.inst
	noWindow.Model.SlidingWindow, noWindow.Model.SlidingWindowLayers = 0, 0
	full, err := NewStepModel(swa.hw, noWindow, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name          string
		batch         func(*Batch)
		attend, reads float64 // per layer: positions attended, cached tokens read (windowed layers)
		fullAttend    float64 // per layer on full-attention layers
		fullReads     float64
		written       float64
	}{
		{"decode at 16K", func(b *Batch) { b.AddDecode(16384) }, 128, 128, 16385, 16385, 1},
		{"decode at 100", func(b *Batch) { b.AddDecode(100) }, 101, 101, 101, 101, 1},
		// 2048 tokens after 16384 cached: each attends 128 on windowed
		// layers; the chunk reads the window and its own tokens.
		{"prefill at 16K", func(b *Batch) { b.AddPrefill(2048, 16384) }, 2048 * 128, 128 + 2048,
			2048*16384 + 2048*2049/2, 16384 + 2048, 2048},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b Batch
			tt.batch(&b)
			ts, _, _ := swa.terms(b)
			tf, _, _ := full.terms(b)
			wantAttn := (12*tt.attend + 12*tt.fullAttend) / (24 * tt.fullAttend)
			if r := ts[termAttentionCompute] / tf[termAttentionCompute]; math.Abs(r-wantAttn) > 1e-12 {
				t.Errorf("attention windowed/full = %.6f, want %.6f", r, wantAttn)
			}
			wantKV := (12*tt.reads + 12*tt.fullReads + 24*tt.written) / (24*tt.fullReads + 24*tt.written)
			if r := ts[termKVMemory] / tf[termKVMemory]; math.Abs(r-wantKV) > 1e-12 {
				t.Errorf("KV bytes windowed/full = %.6f, want %.6f", r, wantKV)
			}
			if ts[termWeightMemory] != tf[termWeightMemory] || ts[termExpertCompute] != tf[termExpertCompute] {
				t.Error("the window changed a weight term")
			}
		})
	}
	var deep Batch
	deep.AddDecode(16384)
	ts, _, _ := swa.terms(deep)
	tf, _, _ := full.terms(deep)
	if r := ts[termKVMemory] / tf[termKVMemory]; r < 0.5 || r > 0.51 {
		t.Errorf("KV read at 16K: windowed/full = %.4f, want just over a half", r)
	}
}

// TestExpertFormatBytes: gpt-oss's weights in llama.cpp are its MXFP4
// experts and the rest in Q8_0, by hand count, and a decode step reads
// the dense part once and 4 experts per layer at 4.25 bits.
func TestExpertFormatBytes(t *testing.T) {
	p := defaultProfile(t, "dgx-spark", "llama.cpp")
	s := nativeStepModel(t, "dgx-spark", "gpt-oss-20b", "mxfp4", "fp16", p)
	expert := 3.0*2880*2880 + 3*2880 // gate, up, down and their biases
	experts := 24 * 32 * expert
	rest := 20914757184 - experts // catalog total (TestGptOssParams checks it)
	if got, want := s.WeightBytes(), experts*4.25/8+rest*8.5/8; math.Abs(got-want) > 1 {
		t.Errorf("WeightBytes = %.0f, want %.0f", got, want)
	}
	if got, want := s.expertBytes, expert*4.25/8; got != want {
		t.Errorf("one expert's bytes = %v, want %v", got, want)
	}
	var b Batch
	b.AddDecode(0)
	_, _, bytes := s.terms(b)
	m := s.inst.Model
	dense := (24*float64(m.DenseLayerParams()) + float64(m.LMHeadParams())) * 8.5 / 8
	kv := 2 * m.KVBytesPerToken(s.inst.KV) // one read, one written
	if want := dense + 24*4*expert*4.25/8 + kv; math.Abs(bytes-want) > 1e-6*want {
		t.Errorf("decode step bytes = %.0f, want %.0f", bytes, want)
	}
	// The experts' FP4 kernels run at the int8 peak under llama.cpp, at
	// the FP4 peak under vLLM.
	if s.expertPeak != s.hw.FLOPS("int8") {
		t.Errorf("llama.cpp MXFP4 expert peak = %g, want the int8 peak %g", s.expertPeak, s.hw.FLOPS("int8"))
	}
	v := nativeStepModel(t, "dgx-spark", "gpt-oss-20b", "mxfp4", "fp16", defaultProfile(t, "dgx-spark", "vllm"))
	if v.expertPeak != v.hw.FLOPS("fp4") || v.linearPeak != v.hw.FLOPS("bf16") {
		t.Errorf("vLLM: expert peak %g, dense %g; want fp4 %g and bf16 %g", v.expertPeak, v.linearPeak, v.hw.FLOPS("fp4"), v.hw.FLOPS("bf16"))
	}
	if got, want := v.WeightBytes(), experts*4.25/8+rest*2; math.Abs(got-want) > 1 {
		t.Errorf("vLLM WeightBytes = %.0f, want %.0f (the release: the rest bf16)", got, want)
	}
}

// TestExpertsUnsetIsWeights: an instance that names its experts' format
// equal to its weights' prices every step exactly as one that leaves it
// unset, and a model without a window is priced on the batch's own sums.
func TestExpertsUnsetIsWeights(t *testing.T) {
	p := defaultProfile(t, "dgx-spark", "llama.cpp")
	for _, model := range []string{"qwen3-8b", "qwen3-30b-a3b"} {
		a := stepModel(t, "dgx-spark", model, "q4_k_m", "fp16", p)
		in := a.inst
		in.Experts = in.Weights
		b, err := NewStepModel(a.hw, in, p)
		if err != nil {
			t.Fatal(err)
		}
		var batch Batch
		batch.AddPrefill(300, 4000)
		batch.AddDecode(9000)
		if ca, cb := a.Step(batch), b.Step(batch); ca != cb || a.WeightBytes() != b.WeightBytes() {
			t.Errorf("%s: Experts = Weights gives %+v, unset %+v", model, cb, ca)
		}
		if pairs, squares, reads := a.attended(batch); pairs != batch.AttendedPairs || squares != batch.AttendedSquares || reads != batch.KVTokensRead {
			t.Errorf("%s: attended changed the sums of a model without a window", model)
		}
	}
}

func TestKernelDtype(t *testing.T) {
	mx, _ := cat.Format("mxfp4")
	nv, _ := cat.Format("nvfp4")
	q8, _ := cat.Format("q8_0")
	for _, tt := range []struct {
		f      catalog.Format
		engine string
		want   string
	}{
		{mx, "llama.cpp", "int8"}, {nv, "ollama", "int8"}, {mx, "vllm", "fp4"}, {nv, "tensorrt-llm", "fp4"}, {q8, "llama.cpp", "int8"},
	} {
		if got := kernelDtype(tt.f, tt.engine); got != tt.want {
			t.Errorf("kernelDtype(%s, %s) = %s, want %s", tt.f.Name, tt.engine, got, tt.want)
		}
	}
}

// TestWindowedMemory: a prediction's KV need counts the windowed layers at
// most the window per sequence; a model without one counts every token on
// every layer, as before.
func TestWindowedMemory(t *testing.T) {
	p := defaultProfile(t, "dgx-spark", "llama.cpp")
	w := Workload{Batch: 2, Input: 512, Output: 32, Depth: 16384}
	ctx := w.Depth + w.Input + w.Output
	for _, tt := range []struct {
		model, quant string
		want         func(catalog.Model, catalog.KVType) float64
	}{
		{"gpt-oss-20b", "mxfp4", func(m catalog.Model, kv catalog.KVType) float64 {
			return 2 * 2 * 8 * 64 * 2 * float64(12*ctx+12*128) // batch × K,V × heads × dims × bytes × (full + windowed)
		}},
		{"qwen3-8b", "q8_0", func(m catalog.Model, kv catalog.KVType) float64 { return float64(2*ctx) * m.KVBytesPerToken(kv) }},
	} {
		s := nativeStepModel(t, "dgx-spark", tt.model, tt.quant, "fp16", p)
		pred, err := s.Predict(w)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := pred.Memory.KVBytesNeeded, tt.want(s.inst.Model, s.inst.KV); got != want {
			t.Errorf("%s: KVBytesNeeded = %v, want %v", tt.model, got, want)
		}
		if !pred.Memory.Fits {
			t.Errorf("%s: does not fit a Spark", tt.model)
		}
	}
}

// TestShardHoldsEveryTensor: over tp devices gpt-oss's shards together
// hold its weights and a second copy of what each replicates (norms, the
// router, the output bias and the final norm; its 8 KV heads split).
func TestShardHoldsEveryTensor(t *testing.T) {
	m, _ := cat.Model("gpt-oss-20b")
	sh := newShard(m, Layout{TP: 2})
	got := 2 * sh.weightParams(m)
	whole := float64(m.WeightParams())
	replicated := float64(m.Layers)*float64(m.NormParams()+m.RouterParams()+int64(m.HiddenSize)) + float64(m.HiddenSize)
	if math.Abs(got-(whole+replicated)) > 1 {
		t.Errorf("2 shards hold %.0f params, want %.0f plus a second copy of the %.0f replicated", got, whole, replicated)
	}
}
