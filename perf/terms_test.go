package perf

import (
	"math"
	"slices"
	"testing"
)

// TestNewTermsReduceToOldModel: the issue 13 terms at 0 (absent from a
// file) give the step times of the model before them, and each one, when
// set, only ever adds time in the steps it applies to.
func TestNewTermsReduceToOldModel(t *testing.T) {
	base := Prior("dgx-spark", "llama.cpp")
	var pre, dec, short Batch
	pre.AddPrefill(2048, 8192)
	for range 8 {
		dec.AddDecode(4096)
	}
	short.AddPrefill(128, 0)
	var one Batch // one decode token: one token's experts, one-token kernels
	one.AddDecode(4096)
	tests := []struct {
		name  string
		set   func(*Coefficients)
		quant string
		grows []Batch // steps the term must slow down
		same  []Batch // steps it must leave alone
	}{
		{"attention_depth", func(c *Coefficients) { c.AttentionDepth = 2 }, "q8_0", []Batch{pre}, nil},
		{"expert_gemm_s", func(c *Coefficients) { c.ExpertGEMMS = 50e-6 }, "q8_0", []Batch{short, pre}, nil},
		{"kquant_compute_rel below 1", func(c *Coefficients) { c.KQuantComputeRel = 0.5 }, "q4_k_m", []Batch{pre}, nil},
		{"kquant_compute_rel on q8_0", func(c *Coefficients) { c.KQuantComputeRel = 0.5 }, "q8_0", nil, []Batch{pre, dec, short}},
		{"fp4_compute_rel on q4_k_m", func(c *Coefficients) { c.FP4ComputeRel = 0.5 }, "q4_k_m", nil, []Batch{pre, dec, short}},
		{"fp8_compute_rel below 1", func(c *Coefficients) { c.FP8ComputeRel = 0.5 }, "fp8", []Batch{pre}, nil},
		{"fp8_compute_rel on q8_0", func(c *Coefficients) { c.FP8ComputeRel = 0.5 }, "q8_0", nil, []Batch{pre, dec, short}},
		{"serial_fraction", func(c *Coefficients) { c.SerialFraction = 0.3 }, "q8_0", []Batch{pre, dec, short, one}, nil},
		{"expert_overlap", func(c *Coefficients) { c.ExpertOverlap = 0.3 }, "q8_0", nil, []Batch{one}},
		{"multi_seq_expert_pass", func(c *Coefficients) { c.MultiSeqExpertPass = 0.2 }, "q8_0", []Batch{dec, short}, []Batch{one}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := stepModel(t, "dgx-spark", "qwen3-30b-a3b", tt.quant, "fp16", base)
			p := base
			tt.set(&p.Coefficients)
			nw := stepModel(t, "dgx-spark", "qwen3-30b-a3b", tt.quant, "fp16", p)
			for _, b := range tt.grows {
				if o, n := old.Step(b).Seconds, nw.Step(b).Seconds; !(n > o) {
					t.Errorf("step %+v: %v s with the term, %v without: want more", b, n, o)
				}
			}
			for _, b := range tt.same {
				if o, n := old.Step(b).Seconds, nw.Step(b).Seconds; n != o {
					t.Errorf("step %+v: %v s with the term, %v without: want the same", b, n, o)
				}
			}
		})
	}
}

// TestTermsMonotone: each term's cost rises with what it counts.
func TestTermsMonotone(t *testing.T) {
	p := Prior("dgx-spark", "llama.cpp")
	p.Coefficients.AttentionDepth = 1
	p.Coefficients.ExpertGEMMS = 20e-6
	p.Coefficients.MultiSeqWeightPass = 0.3
	s := stepModel(t, "dgx-spark", "qwen3-30b-a3b", "q4_k_m", "fp16", p)
	tests := []struct {
		name string
		step func(n int) Batch
	}{
		{"prefill depth", func(n int) Batch { var b Batch; b.AddPrefill(512, n*4096); return b }},
		{"prompt length", func(n int) Batch { var b Batch; b.AddPrefill(16*n, 0); return b }},
		{"decode batch", func(n int) Batch {
			var b Batch
			for range n {
				b.AddDecode(1024)
			}
			return b
		}},
	}
	for _, tt := range tests {
		prev := 0.0
		for n := 1; n <= 16; n++ {
			c := s.Step(tt.step(n)).Seconds
			if !(c > prev) {
				t.Errorf("%s: step %d takes %v s, not more than step %d's %v s", tt.name, n, c, n-1, prev)
			}
			prev = c
		}
	}
}

// TestDistinctExpertsLimits: E·(1-(1-k/E)^T) is 0 for no tokens, k for
// one, rises with T and tends to E.
func TestDistinctExpertsLimits(t *testing.T) {
	s := stepModel(t, "dgx-spark", "qwen3-30b-a3b", "q8_0", "fp16", Prior("dgx-spark", "llama.cpp"))
	dense := stepModel(t, "dgx-spark", "qwen3-8b", "q8_0", "fp16", Prior("dgx-spark", "llama.cpp"))
	tests := []struct {
		name   string
		m      *StepModel
		tokens int
		want   float64
		tol    float64
	}{
		{"no tokens", s, 0, 0, 0},
		{"one token touches k", s, 1, 8, 1e-9},
		{"16 tokens", s, 16, 128 * (1 - math.Pow(1-8.0/128, 16)), 1e-9},
		{"many tokens touch all", s, 4096, 128, 1e-6},
		{"dense model has none", dense, 512, 0, 0},
	}
	for _, tt := range tests {
		if got := tt.m.DistinctExperts(tt.tokens); math.Abs(got-tt.want) > tt.tol {
			t.Errorf("%s: DistinctExperts(%d) = %v, want %v", tt.name, tt.tokens, got, tt.want)
		}
	}
	prev := 0.0
	for n := 1; n <= 256; n *= 2 {
		if d := s.DistinctExperts(n); !(d > prev) || d > 128 {
			t.Errorf("DistinctExperts(%d) = %v: want rising (above %v) and at most 128", n, d, prev)
		}
		prev = s.DistinctExperts(n)
	}
}

// TestExpertOverlap: with expert_overlap o, T tokens touch the distinct
// experts T^(1-o) independent ones would: still k for one token, fewer
// for a few, and all E for very many.
func TestExpertOverlap(t *testing.T) {
	p := Prior("dgx-spark", "llama.cpp")
	indep := stepModel(t, "dgx-spark", "qwen3-30b-a3b", "q8_0", "fp16", p)
	p.Coefficients.ExpertOverlap = 0.25
	s := stepModel(t, "dgx-spark", "qwen3-30b-a3b", "q8_0", "fp16", p)
	if got := s.DistinctExperts(1); math.Abs(got-8) > 1e-9 {
		t.Errorf("one token touches %v experts, want k = 8", got)
	}
	if got, want := s.DistinctExperts(16), 128*(1-math.Pow(1-8.0/128, math.Pow(16, 0.75))); math.Abs(got-want) > 1e-9 {
		t.Errorf("16 tokens touch %v, want %v", got, want)
	}
	if got := s.DistinctExperts(1 << 16); math.Abs(got-128) > 1e-6 {
		t.Errorf("65536 tokens touch %v, want all 128", got)
	}
	for n := 2; n <= 256; n *= 2 {
		if o, i := s.DistinctExperts(n), indep.DistinctExperts(n); !(o < i) || !(o > s.DistinctExperts(n/2)) {
			t.Errorf("%d tokens: %v experts with overlap, %v without; want fewer, and more than %d tokens touch", n, o, i, n/2)
		}
	}
}

// TestSerialFraction: step = max(c, m) + serial_fraction·min(c, m) +
// overheads, so 1 adds the whole smaller side and 0 none.
func TestSerialFraction(t *testing.T) {
	var b Batch
	b.AddPrefill(256, 1024)
	for _, g := range []float64{0, 0.4, 1} {
		p := Prior("dgx-spark", "llama.cpp")
		p.Coefficients.SerialFraction = g
		c := stepModel(t, "dgx-spark", "qwen3-30b-a3b", "q8_0", "fp16", p).Step(b)
		want := math.Max(c.Compute, c.Memory) + g*math.Min(c.Compute, c.Memory) + c.Overhead
		if math.Abs(c.Seconds-want) > 1e-15 {
			t.Errorf("serial_fraction %v: step %v s, want %v", g, c.Seconds, want)
		}
	}
}

// TestShapeBounds: profiles and fits refuse shape coefficients out of
// range, and a fit refuses to search what is not optional.
func TestShapeBounds(t *testing.T) {
	for _, c := range []Coefficients{{SerialFraction: -0.1}, {SerialFraction: 1.5}, {ExpertOverlap: 1}, {ExpertOverlap: -1}} {
		p := Prior("dgx-spark", "llama.cpp")
		p.Coefficients.SerialFraction, p.Coefficients.ExpertOverlap = c.SerialFraction, c.ExpertOverlap
		if err := p.Coefficients.validate(); err == nil {
			t.Errorf("%+v: validates, want an error", c)
		}
	}
	p := Prior("dgx-spark", "llama.cpp")
	p.Coefficients.SerialFraction = 1
	if err := p.Coefficients.validate(); err != nil {
		t.Errorf("serial_fraction 1 (no overlap at all): %v, want valid", err)
	}
	s := stepModel(t, "dgx-spark", "qwen3-8b", "q8_0", "fp16", p)
	obs := []Observation{{ID: "x", Model: s, Steps: DecodeSteps(1, 4, 0), Seconds: 1, Work: 4}}
	if _, err := FitProfileWith(p, obs, FitOptions{With: []string{"step_overhead_s"}}); err == nil {
		t.Error("fit --with step_overhead_s (not optional) succeeded, want an error")
	}
}

// TestOptInTermsHeld: a fit that does not ask for multi_seq_expert_pass
// holds it at the prior's 0, whatever the rows say.
func TestOptInTermsHeld(t *testing.T) {
	truth := Prior("dgx-spark", "llama.cpp")
	truth.Coefficients.MultiSeqExpertPass = 0.3
	s := stepModel(t, "dgx-spark", "qwen3-30b-a3b", "q8_0", "fp16", truth)
	var obs []Observation
	for _, b := range []int{1, 2, 4, 8, 16} {
		steps := DecodeSteps(b, 8, 512)
		obs = append(obs, Observation{ID: "b", Model: s, Steps: steps, Seconds: s.Run(steps).Seconds, Work: 1})
	}
	prior := Prior("dgx-spark", "llama.cpp")
	res, err := FitProfile(prior, obs)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Profile.Coefficients.MultiSeqExpertPass; got != 0 {
		t.Errorf("multi_seq_expert_pass = %v without --with, want 0", got)
	}
	if slices.Contains(res.Profile.Provenance.Fitted, "multi_seq_expert_pass") {
		t.Error("provenance lists multi_seq_expert_pass as fitted")
	}
}

// TestFitRecoversShapes: rows generated with a serial fraction, or an
// expert overlap, or a multi-token expert pass give it back when the fit
// asks for it (one at a time: together they trade off on rows this few).
func TestFitRecoversShapes(t *testing.T) {
	tests := []struct {
		name string
		set  func(*Coefficients)
		get  func(Coefficients) float64
		want float64
	}{
		{"serial_fraction", func(c *Coefficients) { c.SerialFraction = 0.3 }, func(c Coefficients) float64 { return c.SerialFraction }, 0.3},
		{"expert_overlap", func(c *Coefficients) { c.ExpertOverlap = 0.2 }, func(c Coefficients) float64 { return c.ExpertOverlap }, 0.2},
		{"multi_seq_expert_pass", func(c *Coefficients) { c.MultiSeqExpertPass = 0.15 }, func(c Coefficients) float64 { return c.MultiSeqExpertPass }, 0.15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			truth := Prior("dgx-spark", "llama.cpp")
			truth.PrefillChunk = 2048
			truth.Coefficients = Coefficients{
				PrefillComputeEff: 0.2, DecodeComputeEff: 0.1, ExpertComputeEff: 0.08, AttentionComputeEff: 0.4,
				WeightBandwidthEff: 0.82, ExpertBandwidthEff: 0.7, KVBandwidthEff: 0.6,
				StepOverheadS: 1e-3, SeqOverheadS: 2e-4, MultiSeqWeightPass: 0.2,
			}
			tt.set(&truth.Coefficients)
			var obs []Observation
			for _, model := range []string{"qwen2.5-7b", "qwen3-30b-a3b"} {
				s := stepModel(t, "dgx-spark", model, "q8_0", "fp16", truth)
				add := func(id string, steps []Batch) {
					obs = append(obs, Observation{ID: id, Model: s, Steps: steps, Seconds: s.Run(steps).Seconds, Work: 1})
				}
				for _, d := range []int{0, 4096, 16384} {
					add(model+"-pp", PrefillSteps(1, 2048, d, 2048))
					add(model+"-tg", DecodeSteps(1, 8, d))
				}
				for _, n := range []int{16, 64, 128, 512} {
					add(model+"-short", PrefillSteps(1, n, 0, 2048))
				}
				for _, b := range []int{2, 4, 8, 16, 32} {
					add(model+"-b", DecodeSteps(b, 8, 512))
				}
			}
			prior := truth
			prior.Coefficients = Prior("dgx-spark", "llama.cpp").Coefficients
			res, err := FitProfileWith(prior, obs, FitOptions{With: []string{tt.name}})
			if err != nil {
				t.Fatal(err)
			}
			// Searched to 4 digits, so close, not exact.
			if got := tt.get(res.Profile.Coefficients); math.Abs(got-tt.want) > 0.02*tt.want {
				t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
			}
			if s := Summarize(res.Rows); s.MaxAbsPct > 0.5 {
				t.Errorf("fit error on noiseless rows: max %.3f%% (%s)", s.MaxAbsPct, s.WorstID)
			}
		})
	}
}

// TestFitRecoversNewTerms: rows generated with known issue 13 terms (a
// K-quant family factor, an expert GEMM cost, attention at depth, the
// multi-token weight pass) give them back.
func TestFitRecoversNewTerms(t *testing.T) {
	truth := Prior("dgx-spark", "llama.cpp")
	truth.PrefillChunk = 2048
	truth.Coefficients = Coefficients{
		PrefillComputeEff: 0.2, DecodeComputeEff: 0.1, ExpertComputeEff: 0.08, AttentionComputeEff: 0.4,
		WeightBandwidthEff: 0.82, ExpertBandwidthEff: 0.7, KVBandwidthEff: 0.6,
		StepOverheadS: 1e-3, SeqOverheadS: 2e-4, MultiSeqWeightPass: 0.2,
		AttentionDepth: 0.5, ExpertGEMMS: 4e-6, KQuantComputeRel: 1.5,
	}
	var obs []Observation
	for _, quant := range []string{"q8_0", "q4_k_m"} {
		for _, model := range []string{"qwen2.5-7b", "qwen3-30b-a3b", "qwen3-14b"} {
			s := stepModel(t, "dgx-spark", model, quant, "fp16", truth)
			add := func(id string, steps []Batch) {
				obs = append(obs, Observation{ID: id, Model: s, Steps: steps, Seconds: s.Run(steps).Seconds, Work: 1})
			}
			for _, d := range []int{0, 4096, 16384, 32768} {
				add(model+quant+"-pp", PrefillSteps(1, 2048, d, 2048))
				add(model+quant+"-tg", DecodeSteps(1, 32, d))
			}
			for _, n := range []int{64, 128, 512} {
				add(model+quant+"-short", PrefillSteps(1, n, 0, 2048))
			}
			for _, b := range []int{2, 4, 8} {
				add(model+quant+"-b", DecodeSteps(b, 32, 512))
			}
		}
	}
	prior := truth
	prior.Coefficients = Prior("dgx-spark", "llama.cpp").Coefficients
	res, err := FitProfileWith(prior, obs, FitOptions{With: []string{"attention_depth"}}) // opt-in
	if err != nil {
		t.Fatal(err)
	}
	got, want := res.Profile.Coefficients, truth.Coefficients
	if math.Abs(got.KQuantComputeRel-want.KQuantComputeRel) > 2e-3 {
		t.Errorf("kquant_compute_rel = %v, want %v", got.KQuantComputeRel, want.KQuantComputeRel)
	}
	gv, wv := got.values(), want.values()
	for i := range gv {
		if i == termDecodeCompute {
			continue // never informed: every decode step is memory-bound
		}
		// The family factor is rounded to 4 digits, so the rest is close,
		// not exact.
		if math.Abs(gv[i]-wv[i]) > 2e-2*math.Max(1e-4, math.Abs(wv[i]))+1e-9 {
			t.Errorf("%s = %v, want %v", termNames[i], gv[i], wv[i])
		}
	}
	if s := Summarize(res.Rows); s.MaxAbsPct > 0.1 {
		t.Errorf("fit error on noiseless rows: max %.3f%% (%s)", s.MaxAbsPct, s.WorstID)
	}
}

// TestDistinctExpertsTable: without expert_overlap DistinctExperts reads a
// table shared by every model of the same experts; it holds, bit for bit,
// what the formula gives (the simulator's results must not move), below
// the table's end and past it.
func TestDistinctExpertsTable(t *testing.T) {
	s := stepModel(t, "dgx-spark", "qwen3-30b-a3b", "q8_0", "fp16", Prior("dgx-spark", "llama.cpp"))
	if s.tokenShare != 1 || len(s.distinct) != distinctTable {
		t.Fatalf("the prior has expert_overlap %v and a table of %d", 1-s.tokenShare, len(s.distinct))
	}
	for n := 0; n < 3*distinctTable; n++ {
		want := 0.0
		if n > 0 {
			want = 128 * (1 - math.Pow(1-8.0/128, float64(n)))
		}
		if got := s.DistinctExperts(n); got != want {
			t.Fatalf("DistinctExperts(%d) = %v, the formula %v", n, got, want)
		}
	}
	other := stepModel(t, "h100-sxm", "qwen3-30b-a3b", "fp8", "fp16", Prior("h100-sxm", "vllm"))
	if &other.distinct[0] != &s.distinct[0] {
		t.Error("two models of the same experts built two tables")
	}
}
