package perf

import (
	"os"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/measure"
)

func TestParseProfileErrors(t *testing.T) {
	good, err := os.ReadFile("../profiles/dgx-spark.llama.cpp.toml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(good)
	tests := []struct {
		name, old, new string
		want           []string
	}{
		{"efficiency above 1", "weight_bandwidth_eff = ", "weight_bandwidth_eff = 1.5 #", []string{"coefficients.weight_bandwidth_eff", "efficiency must be in (0, 1]"}},
		{"negative overhead", "step_overhead_s = ", "step_overhead_s = -1 #", []string{"coefficients.step_overhead_s", "must not be negative"}},
		{"unknown engine", `engine = "llama.cpp"`, `engine = "llamacpp"`, []string{"engine", `unknown engine "llamacpp"`}},
		{"unknown field", "[coefficients]", "[coefficients]\nturbo = true", []string{"coefficients.turbo", "unknown field"}},
		{"missing", "prefill_chunk = 2048\n", "", []string{"prefill_chunk", "required field is missing"}},
		// Issue 11: non-finite and absurd numbers, and input that exhausted the decoder.
		{"nan efficiency", "weight_bandwidth_eff = ", "weight_bandwidth_eff = nan #", []string{"coefficients.weight_bandwidth_eff: must be a finite number"}},
		{"inf overhead", "step_overhead_s = ", "step_overhead_s = inf #", []string{"coefficients.step_overhead_s: must be a finite number"}},
		{"huge overhead", "step_overhead_s = ", "step_overhead_s = 1e300 #", []string{"coefficients.step_overhead_s: must be at most 60"}},
		{"huge chunk", "prefill_chunk = 2048", "prefill_chunk = 2000000000", []string{"prefill_chunk: must be in [1, 1048576]"}},
		{"huge interference", "[coefficients]", "interference = 1e9\n[coefficients]", []string{"interference: must be in [0, 10]"}},
		{"nested", "[coefficients]", "x = " + strings.Repeat("[", 50000) + "\n[coefficients]", []string{"nest deeper than 32 levels"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(src, tt.old) {
				t.Fatalf("profile has no %q", tt.old)
			}
			_, err := ParseProfile("p.toml", []byte(strings.Replace(src, tt.old, tt.new, 1)))
			if err == nil {
				t.Fatal("ParseProfile succeeded, want an error")
			}
			for _, w := range append(tt.want, "p.toml:") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestBenchRows(t *testing.T) {
	header := "id,hardware,engine,model,quant,kv_cache,tp,kind,concurrency,requests,rate_rps,input_tokens,output_tokens,depth_tokens,length_cv,settings,metric,value,unit,source,notes\n"
	tests := []struct {
		name, row string
		want      BenchRow // zero: no row
		err       string
	}{
		{"prefill with ubatch", "p,dgx-spark,llama.cpp,qwen3-8b,q4_k_m,,,bench-prefill,1,,,128,0,0,0,ubatch=16384,prefill_tps,100,tok/s,s,\n",
			BenchRow{ID: "p", Hardware: "dgx-spark", Engine: "llama.cpp", Model: "qwen3-8b", Quant: "q4_k_m", Batch: 1, Input: 128, Chunk: 16384, Metric: MetricPrefill, Value: 100, Unit: "tok/s", Source: "s"}, ""},
		{"batched prefill decodes nothing", "b,dgx-spark,llama.cpp,qwen3-8b,q8_0,,,batched-bench,4,,,512,32,0,0,,prefill_tps,100,tok/s,s,\n",
			BenchRow{ID: "b", Hardware: "dgx-spark", Engine: "llama.cpp", Model: "qwen3-8b", Quant: "q8_0", Batch: 4, Input: 512, Metric: MetricPrefill, Value: 100, Unit: "tok/s", Source: "s"}, ""},
		{"other pair left out", "o,h100-sxm,vllm,qwen3-8b,fp8,,,bench-decode,1,,,0,32,0,0,,decode_tps,100,tok/s,s,\n", BenchRow{}, ""},
		{"tensor parallel", "t,dgx-spark,llama.cpp,qwen3-8b,q8_0,,2,bench-decode,1,,,0,32,0,0,,decode_tps,100,tok/s,s,\n", BenchRow{}, "tensor parallelism"},
	}
	for _, tt := range tests {
		rows, err := measure.Read("rows.csv", strings.NewReader(header+tt.row))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, err := BenchRows(rows, "dgx-spark", "llama.cpp")
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "rows.csv:2") {
				t.Errorf("%s: error %v, want one naming rows.csv:2 and %q", tt.name, err, tt.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want == (BenchRow{}) && len(got) != 0:
			t.Errorf("%s: got %+v, want no row", tt.name, got)
		case tt.want != (BenchRow{}) && (len(got) != 1 || got[0] != tt.want):
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func FuzzParseProfile(f *testing.F) {
	for _, p := range []string{"../profiles/dgx-spark.llama.cpp.toml", "../profiles/h100-sxm.vllm.toml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("hardware = \"x\"\nengine = \"vllm\"\nprefill_chunk = 1e300\nmemory_fraction = nan\n"))
	f.Add([]byte("[coefficients]\nstep_overhead_s = inf\n[power]\nidle_w = -inf\n"))
	f.Add([]byte("a = " + strings.Repeat("[", 64)))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := ParseProfile("fuzz.toml", src)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if p.PrefillChunk < 1 || !(p.MemoryFraction > 0 && p.MemoryFraction <= 1) {
			t.Fatalf("accepted a profile that cannot run: chunk %d, fraction %v", p.PrefillChunk, p.MemoryFraction)
		}
	})
}
