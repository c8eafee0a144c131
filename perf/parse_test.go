package perf

import (
	"os"
	"strings"
	"testing"
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

func TestReadBenchCSVErrors(t *testing.T) {
	header := "id,hardware,engine,model,quant,batch,input_tokens,depth_tokens,output_tokens,metric,value,unit,source\n"
	row := "r1,dgx-spark,llama.cpp,qwen3-8b,q8_0,1,512,0,0,prefill_tps,100,tok/s,x\n"
	tests := []struct {
		name, src string
		want      string
	}{
		{"bad header", strings.Replace(header, "batch", "bs", 1) + row, "rows.csv:1: column 6"},
		{"bad number", header + "# note\n" + strings.Replace(row, ",100,", ",fast,", 1), "rows.csv:3: value"},
		{"negative batch", header + strings.Replace(row, ",1,512,", ",-1,512,", 1), "rows.csv:2: batch"},
		{"unknown metric", header + strings.Replace(row, "prefill_tps", "speed", 1), `rows.csv:2: metric: unknown metric "speed"`},
		{"short row", header + "r1,dgx-spark\n", "rows.csv"},
		{"prefill without input", header + strings.Replace(row, ",1,512,", ",1,0,", 1), "rows.csv:2: input_tokens"},
	}
	for _, tt := range tests {
		_, err := ReadBenchCSV("rows.csv", strings.NewReader(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	rows, err := ReadBenchCSV("rows.csv", strings.NewReader(header+row))
	if err != nil || len(rows) != 1 || rows[0].Input != 512 || rows[0].Value != 100 {
		t.Fatalf("good row: %+v, %v", rows, err)
	}
}

func FuzzReadBenchCSV(f *testing.F) {
	data, err := os.ReadFile("testdata/published-dgx-spark.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("id\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		rows, err := ReadBenchCSV("fuzz.csv", strings.NewReader(string(src)))
		if err != nil {
			return
		}
		for _, r := range rows {
			if r.Batch < 1 || !(r.Value > 0) || r.Input < 0 || r.Output < 0 || r.Depth < 0 {
				t.Fatalf("accepted an impossible row: %+v", r)
			}
		}
	})
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
