package perf

import (
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/measure"
)

var cat = catalog.Default()

// stepModel builds a step model from catalog names and a profile.
func stepModel(t testing.TB, hw, model, quant, kv string, p Profile) *StepModel {
	t.Helper()
	h, err := cat.HardwareNamed(hw)
	if err != nil {
		t.Fatal(err)
	}
	m, err := cat.Model(model)
	if err != nil {
		t.Fatal(err)
	}
	f, err := cat.Format(quant)
	if err != nil {
		t.Fatal(err)
	}
	k, err := cat.KVType(kv)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStepModel(h, Instance{Model: m, Weights: f, KV: k}, p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func defaultProfile(t testing.TB, hw, engine string) Profile {
	t.Helper()
	set, err := DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.Get(hw, engine)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBatchSums(t *testing.T) {
	var b Batch
	b.AddPrefill(4, 10) // attends 11+12+13+14 = 50 positions; reads 14 cached
	b.AddDecode(99)     // attends 100; reads 100
	b.AddPrefill(0, 5)  // ignored
	want := Batch{PrefillTokens: 4, PrefillSeqs: 1, DecodeSeqs: 1, AttendedPairs: 150, KVTokensRead: 114, AttendedSquares: 11*11 + 12*12 + 13*13 + 14*14 + 100*100}
	if b != want {
		t.Fatalf("batch = %+v, want %+v", b, want)
	}
	if b.Tokens() != 5 || b.Seqs() != 2 {
		t.Fatalf("Tokens, Seqs = %d, %d, want 5, 2", b.Tokens(), b.Seqs())
	}
}

func TestPrefillSteps(t *testing.T) {
	tests := []struct {
		batch, input, depth, chunk int
		wantSteps                  int
	}{
		{1, 2048, 0, 2048, 1},
		{1, 2048, 4096, 512, 4},
		{4, 512, 0, 2048, 1},
		{3, 1000, 0, 512, 6}, // 3000 tokens in 512-token steps
		{32, 8192, 0, 2048, 128},
		{2, 0, 0, 512, 0},
	}
	for _, tt := range tests {
		steps := PrefillSteps(tt.batch, tt.input, tt.depth, tt.chunk)
		if len(steps) != tt.wantSteps {
			t.Errorf("PrefillSteps(%d, %d, %d, %d): %d steps, want %d", tt.batch, tt.input, tt.depth, tt.chunk, len(steps), tt.wantSteps)
		}
		tokens := 0
		var attended float64
		for _, s := range steps {
			if s.PrefillTokens > tt.chunk {
				t.Errorf("step of %d tokens exceeds chunk %d", s.PrefillTokens, tt.chunk)
			}
			tokens += s.PrefillTokens
			attended += s.AttendedPairs
		}
		if tokens != tt.batch*tt.input {
			t.Errorf("prefilled %d tokens, want %d", tokens, tt.batch*tt.input)
		}
		// However a prompt is chunked, causal attention covers the same pairs.
		n, d := float64(tt.input), float64(tt.depth)
		if want := float64(tt.batch) * (n*d + n*(n+1)/2); math.Abs(attended-want) > 1e-6*want {
			t.Errorf("attended pairs %v, want %v", attended, want)
		}
	}
}

// TestDecodeMonotonic: decode gets slower as context and batch grow, on
// every built-in profile, for a dense and a MoE model.
func TestDecodeMonotonic(t *testing.T) {
	set, err := DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range set {
		for _, model := range []string{"qwen3-8b", "qwen3-30b-a3b"} {
			s := stepModel(t, p.Hardware, model, "bf16", "fp16", p)
			step := func(batch, ctx int) float64 { return s.Run(DecodeSteps(batch, 1, ctx)).Seconds }
			for _, batch := range []int{1, 8, 64} {
				prev := 0.0
				for _, ctx := range []int{0, 1024, 8192, 32768} {
					if got := step(batch, ctx); !(got > prev) {
						t.Errorf("%s/%s %s batch %d: step at context %d = %v, not above %v", p.Hardware, p.Engine, model, batch, ctx, got, prev)
					} else {
						prev = got
					}
				}
			}
			for _, ctx := range []int{0, 4096} {
				prev := 0.0
				for _, batch := range []int{1, 2, 4, 16, 64, 256} {
					if got := step(batch, ctx); !(got > prev) {
						t.Errorf("%s/%s %s context %d: step at batch %d = %v, not above %v", p.Hardware, p.Engine, model, ctx, batch, got, prev)
					} else {
						prev = got
					}
				}
			}
		}
	}
}

// TestRegimes: prefill of a long prompt is compute-bound and batch-1 decode
// memory-bound, on every catalog device with its default profile.
func TestRegimes(t *testing.T) {
	set, err := DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	for hw := range cat.Hardware {
		p, err := set.Get(hw, "vllm")
		if err != nil {
			t.Fatalf("no default vllm profile for catalog device %s: %v", hw, err)
		}
		for _, model := range []string{"qwen3-0.6b", "qwen3-8b", "qwen3-14b", "qwen3-32b", "qwen3-30b-a3b"} {
			for _, quant := range []string{"bf16", "fp8", "nvfp4"} {
				s := stepModel(t, hw, model, quant, "fp16", p)
				if !s.MemoryPlan(8192).Fits {
					continue // the model does not fit this device in this format
				}
				pred, err := s.Predict(Workload{Batch: 1, Input: 8192, Output: 64})
				if err != nil {
					t.Fatal(err)
				}
				if pred.Prefill.Bound() != "compute" {
					t.Errorf("%s %s %s: 8192-token prefill is %s-bound, want compute", hw, model, quant, pred.Prefill.Bound())
				}
				if pred.Decode.Bound() != "memory" {
					t.Errorf("%s %s %s: batch-1 decode is %s-bound, want memory", hw, model, quant, pred.Decode.Bound())
				}
			}
		}
	}
}

// TestFitRecoversCoefficients: observations generated by a known profile
// must give that profile back.
func TestFitRecoversCoefficients(t *testing.T) {
	truth := Prior("dgx-spark", "llama.cpp")
	truth.PrefillChunk = 2048
	truth.Coefficients = Coefficients{
		PrefillComputeEff: 0.2, DecodeComputeEff: 0.1, ExpertComputeEff: 0.08, AttentionComputeEff: 0.4,
		WeightBandwidthEff: 0.82, ExpertBandwidthEff: 0.7, KVBandwidthEff: 0.6,
		StepOverheadS: 1e-3, LayerOverheadS: 0, SeqOverheadS: 2e-4,
	}
	var obs []Observation
	for _, model := range []string{"qwen2.5-7b", "qwen3-30b-a3b", "qwen3-14b"} {
		s := stepModel(t, "dgx-spark", model, "q8_0", "fp16", truth)
		add := func(id string, steps []Batch) {
			obs = append(obs, Observation{ID: id, Model: s, Steps: steps, Seconds: s.Run(steps).Seconds, Work: 1})
		}
		for _, d := range []int{0, 4096, 16384} {
			add(model+"-pp", PrefillSteps(1, 2048, d, 2048))
			add(model+"-tg", DecodeSteps(1, 32, d))
		}
		for _, b := range []int{2, 4, 8} {
			add(model+"-b", DecodeSteps(b, 32, 512))
		}
	}
	prior := truth
	prior.Coefficients = Prior("dgx-spark", "llama.cpp").Coefficients
	res, err := FitProfile(prior, obs)
	if err != nil {
		t.Fatal(err)
	}
	got, want := res.Profile.Coefficients.values(), truth.Coefficients.values()
	for i := range got {
		if i == termDecodeCompute {
			continue // every decode step is memory-bound: not identifiable
		}
		if math.Abs(got[i]-want[i]) > 1e-6*math.Max(1, math.Abs(want[i]))+1e-9 {
			t.Errorf("%s = %v, want %v", termNames[i], got[i], want[i])
		}
	}
	if got[termDecodeCompute] != prior.Coefficients.DecodeComputeEff {
		t.Errorf("decode_compute_eff = %v, want the prior %v (the data cannot inform it)", got[termDecodeCompute], prior.Coefficients.DecodeComputeEff)
	}
	for _, r := range res.Rows {
		if math.Abs(r.ErrorPct) > 1e-6 {
			t.Errorf("row %s: error %v%%, want 0 on noiseless data", r.ID, r.ErrorPct)
		}
	}
}

// sparkHeldOut are the rows of the published file the shipped
// dgx-spark/llama.cpp profile is not fitted on (the Makefile's --hold-out).
var sparkHeldOut = regexp.MustCompile(sparkHoldOut)

const sparkHoldOut = `q4km-pp8192$`

// publishedObservations reads the dgx-spark llama.cpp bench rows of a
// measurement file as observations for profile p; keep selects rows by id
// (nil: all).
func publishedObservations(t testing.TB, file string, p Profile, keep func(id string) bool) []Observation {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mrows, err := measure.Read(file, f)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := BenchRows(mrows, "dgx-spark", "llama.cpp")
	if err != nil {
		t.Fatal(err)
	}
	if keep != nil {
		rows = slices.DeleteFunc(rows, func(r BenchRow) bool { return !keep(r.ID) })
	}
	hw, _ := cat.HardwareNamed("dgx-spark")
	obs, err := BenchObservations(cat, hw, "fp16", p, rows)
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

const publishedServing = "../testdata/published/published-serving.csv"

// TestShippedSparkProfile: the built-in dgx-spark/llama.cpp profile is what
// fitting the published rows gives, and it reproduces every one of them.
func TestShippedSparkProfile(t *testing.T) {
	shipped := defaultProfile(t, "dgx-spark", "llama.cpp")
	prior := Prior("dgx-spark", "llama.cpp")
	prior.PrefillChunk = shipped.PrefillChunk
	res, err := FitProfileWith(prior, publishedObservations(t, publishedServing, prior, func(id string) bool { return !sparkHeldOut.MatchString(id) }), sparkFitOptions)
	if err != nil {
		t.Fatal(err)
	}
	got, want := res.Profile.Coefficients.values(), shipped.Coefficients.values()
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-9*math.Max(1e-3, math.Abs(want[i])) {
			t.Errorf("%s: fit gives %v, shipped profile has %v: run 'make generate'", termNames[i], got[i], want[i])
		}
	}
	for _, sh := range res.Profile.Coefficients.shapes() {
		if w := shipped.Coefficients.shapes(); !slices.ContainsFunc(w[:], func(x shape) bool { return x.name == sh.name && x.v == sh.v }) {
			t.Errorf("%s: fit gives %v, the shipped profile another: run 'make generate'", sh.name, sh.v)
		}
	}
	// Bars from the measured fit (issue 13 second refit, 25 rows): median
	// 1.6%, worst 19.4% (Qwen3-30B-A3B Q4_K_M pp16384; it was 32.7% for
	// pp128 before serial_fraction: see docs/performance-model.md).
	for _, r := range res.Rows {
		t.Logf("fit %-45s measured %8.2f predicted %8.2f error %+5.1f%%", r.ID, r.Measured, r.Predicted, r.ErrorPct)
		if math.Abs(r.ErrorPct) > 20 {
			t.Errorf("fit row %s: error %.1f%%, want within 20%%", r.ID, r.ErrorPct)
		}
	}
	if s := Summarize(res.Rows); s.MedianAbsPct > 2 {
		t.Errorf("fit median |error| %.1f%%, want <= 2%%", s.MedianAbsPct)
	}
}

// sparkFitOptions are the Makefile's generate line's --fix and --with.
var sparkFitOptions = FitOptions{Fixed: []string{"attention_depth"}, With: []string{"serial_fraction", "expert_overlap", "multi_seq_expert_pass"}}

// sparkOutliers are the ids of the validation rows marked as outliers,
// with their reasons.
func sparkOutliers(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("testdata/validation-dgx-spark.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mrows, err := measure.Read("testdata/validation-dgx-spark.csv", f)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := BenchRows(mrows, "dgx-spark", "llama.cpp")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		if r.Outlier != "" {
			out[r.ID] = r.Outlier
		}
	}
	return out
}

// TestHeldOutSparkRows checks the fitted profile against published rows it
// never saw: deeper contexts (16K, 32K) and llama-batched-bench batch sizes
// 1-32 at prompt lengths 512-8192. The rows marked as outliers are
// predicted and logged but not held to the bars.
func TestHeldOutSparkRows(t *testing.T) {
	p := defaultProfile(t, "dgx-spark", "llama.cpp")
	outliers := sparkOutliers(t)
	if len(outliers) != 1 || outliers["spark-lcpp-q3coder30b-q8-batched-pp512-b1-spp"] == "" {
		t.Errorf("outliers %v: want the one documented row (docs/performance-model.md)", outliers)
	}
	all := Evaluate(p, append(publishedObservations(t, publishedServing, p, sparkHeldOut.MatchString),
		publishedObservations(t, "testdata/validation-dgx-spark.csv", p, nil)...))
	var rows []FitRow
	for _, r := range all {
		if why, ok := outliers[r.ID]; ok {
			t.Logf("outlier  %-50s measured %8.2f predicted %8.2f error %+6.1f%% (not counted: %s)", r.ID, r.Measured, r.Predicted, r.ErrorPct, why)
			continue
		}
		t.Logf("held-out %-50s measured %8.2f predicted %8.2f error %+6.1f%%", r.ID, r.Measured, r.Predicted, r.ErrorPct)
		rows = append(rows, r)
	}
	s := Summarize(rows)
	t.Logf("held-out: %d rows, median |error| %.1f%%, mean %.1f%%, max %.1f%% (%s)", len(rows), s.MedianAbsPct, s.MeanAbsPct, s.MaxAbsPct, s.WorstID)
	// Bars set from the shipped profile's measured held-out errors (77
	// rows: median 6.1%; single-stream and prefill rows within 11.6%;
	// batched decode within 25.4%, the MoE PP 512 B=32 row), with a little
	// room. The bar is 8% and 25%.
	if s.MedianAbsPct > 6.5 {
		t.Errorf("median |error| on held-out rows = %.1f%%, want <= 6.5%%", s.MedianAbsPct)
	}
	for _, r := range rows {
		single := strings.Contains(r.ID, "-d16384") || strings.Contains(r.ID, "-d32768")
		prefill := strings.HasSuffix(r.ID, "-spp")
		single = single || strings.Contains(r.ID, "q4km")
		if (single || prefill) && math.Abs(r.ErrorPct) > 12 {
			t.Errorf("held-out %s: error %.1f%%, want within 12%% for single-stream and prefill rows", r.ID, r.ErrorPct)
		}
		if !single && !prefill && math.Abs(r.ErrorPct) > 26 {
			t.Errorf("held-out batched decode %s: error %.1f%%, want within 26%%", r.ID, r.ErrorPct)
		}
	}
}

func TestColocated(t *testing.T) {
	p := defaultProfile(t, "dgx-spark", "llama.cpp")
	a := stepModel(t, "dgx-spark", "qwen3-8b", "q4_k_m", "fp16", p)
	b := stepModel(t, "dgx-spark", "qwen3-14b", "q4_k_m", "fp16", p)
	w := Workload{Batch: 1, Input: 2048, Output: 128}

	alone, err := a.Predict(w)
	if err != nil {
		t.Fatal(err)
	}
	one, err := PredictColocated([]*StepModel{a}, []Workload{w})
	if err != nil {
		t.Fatal(err)
	}
	if one.Predictions[0].E2E != alone.E2E || one.DecodeSlowdown != 1 || one.PrefillSlowdown != 1 {
		t.Errorf("a lone instance must reduce to the single-instance model: E2E %v vs %v, slowdowns %v %v",
			one.Predictions[0].E2E, alone.E2E, one.PrefillSlowdown, one.DecodeSlowdown)
	}

	two, err := PredictColocated([]*StepModel{a, b}, []Workload{w, w})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range two.Predictions {
		if p.TTFT < two.Alone[i].TTFT || p.TPOT < two.Alone[i].TPOT || p.E2E < two.Alone[i].E2E {
			t.Errorf("instance %d is faster co-located (%+v) than alone (%+v)", i, p, two.Alone[i])
		}
	}
	if !(two.DecodeSlowdown > 1.3 && two.DecodeSlowdown <= 2) {
		t.Errorf("two memory-bound decoders: slowdown %v, want in (1.3, 2]", two.DecodeSlowdown)
	}
	if got, want := two.Memory.WeightBytes, a.WeightBytes()+b.WeightBytes(); math.Abs(got-want) > 1 {
		t.Errorf("shared weights = %v, want %v", got, want)
	}
	if !two.Memory.Fits {
		t.Error("Qwen3-8B and Qwen3-14B at 4 bits must fit on one DGX Spark")
	}

	big := stepModel(t, "dgx-spark", "qwen3-235b-a22b", "q4_k_m", "fp16", p)
	over, err := PredictColocated([]*StepModel{big, b}, []Workload{w, w})
	if err != nil {
		t.Fatal(err)
	}
	if over.Memory.Fits || over.Memory.FreeBytes >= 0 {
		t.Errorf("Qwen3-235B and Qwen3-14B at 4 bits cannot share 119.7 GiB: %+v", over.Memory)
	}

	h100 := stepModel(t, "h100-sxm", "qwen3-8b", "bf16", "fp16", defaultProfile(t, "h100-sxm", "vllm"))
	if _, err := PredictColocated([]*StepModel{a, h100}, []Workload{w, w}); err == nil {
		t.Error("co-locating models on different hardware succeeded, want an error")
	}
}

func TestPredictDefinitions(t *testing.T) {
	s := stepModel(t, "dgx-spark", "qwen3-14b", "q4_k_m", "fp16", defaultProfile(t, "dgx-spark", "llama.cpp"))
	w := Workload{Batch: 4, Input: 1000, Output: 101, Depth: 50}
	p, err := s.Predict(w)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.E2E-(p.TTFT+100*p.TPOT)) > 1e-12 {
		t.Errorf("E2E %v != TTFT %v + 100 × TPOT %v", p.E2E, p.TTFT, p.TPOT)
	}
	if math.Abs(p.DecodeTokensPerSecAll-4*p.DecodeTokensPerSecSeq) > 1e-9 {
		t.Errorf("aggregate decode %v != 4 × per-sequence %v", p.DecodeTokensPerSecAll, p.DecodeTokensPerSecSeq)
	}
	if math.Abs(p.PrefillTokensPerSec-4000/p.TTFT) > 1e-9 {
		t.Errorf("prefill rate %v != 4000 / TTFT", p.PrefillTokensPerSec)
	}
	if p.Memory.KVBytesNeeded != 4*1151*s.KVBytesPerToken() {
		t.Errorf("KV needed %v, want 4 × 1151 tokens × %v", p.Memory.KVBytesNeeded, s.KVBytesPerToken())
	}
	for _, bad := range []Workload{{Batch: 0, Input: 1}, {Batch: 1, Input: -1}, {Batch: 1}} {
		if _, err := s.Predict(bad); err == nil {
			t.Errorf("Predict(%+v) succeeded, want an error", bad)
		}
	}
}

func TestStepDoesNotAllocate(t *testing.T) {
	s := stepModel(t, "dgx-spark", "qwen3-30b-a3b", "q8_0", "fp16", defaultProfile(t, "dgx-spark", "llama.cpp"))
	var b Batch
	b.AddPrefill(512, 100)
	for range 8 {
		b.AddDecode(4000)
	}
	if n := testing.AllocsPerRun(100, func() { s.Step(b) }); n != 0 {
		t.Fatalf("Step allocates %v times per call, want 0", n)
	}
}
