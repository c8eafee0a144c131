package measure

import (
	"os"
	"strings"
	"testing"
)

const header = "id,hardware,engine,model,quant,kv_cache,tp,kind,concurrency,requests,rate_rps,input_tokens,output_tokens,depth_tokens,length_cv,settings,metric,value,unit,source,notes\n"

// A valid row of each kind, edited by the cases below.
const (
	closedRow = "c1,h100-sxm,vllm,qwen3-8b,bf16,,,closed-loop,4,100,,233,221,,0,max_seqs=1024;max_batched_tokens=8192,ttft_ms_mean,59.1,ms,src,notes\n"
	burstRow  = "b1,h100-sxm,trtllm,qwen3-32b,fp8,,,burst,,1000,,217,201,,1,,output_tps_aggregate,176,tok/s,src,\n"
	poisRow   = "p1,h200,sglang,qwen3-8b,fp8,,,poisson,,200,4.5,512,128,,0,,request_rps,4.4,req/s,src,\n"
	prefRow   = "bp,dgx-spark,llama.cpp,qwen3-8b,q4_k_m,,,bench-prefill,1,,,2048,0,4096,0,ubatch=2048;flash_attn=1,prefill_tps,2000,tok/s,\"a, b\",\n"
	decRow    = "bd,dgx-spark,llama.cpp,qwen3-8b,q8_0,fp8,,bench-decode,,,,0,32,0,0,,decode_tps,30,tok/s,src,\n"
	batchRow  = "bb,dgx-spark,llama.cpp,qwen3-8b,q8_0,,,batched-bench,4,,,512,32,0,0,,decode_tps_aggregate,100,tok/s,src,\n"
)

func TestRead(t *testing.T) {
	src := "# a comment\n" + header + closedRow + "# another\n" + burstRow + poisRow + prefRow + decRow + batchRow
	rows, err := Read("m.csv", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 {
		t.Fatalf("got %d rows, want 6", len(rows))
	}
	c := rows[0]
	if c.File != "m.csv" || c.Line != 3 || c.Pos() != "m.csv:3" || c.Kind != ClosedLoop || c.Concurrency != 4 || c.Requests != 100 ||
		c.TP != 1 || c.InputTokens != 233 || c.OutputTokens != 221 || c.Metric != TTFTMean || c.Value != 59.1 {
		t.Errorf("closed-loop row read as %+v", c)
	}
	if v, ok := c.Settings.Get("max_seqs"); !ok || v != "1024" {
		t.Errorf("max_seqs = %q, %v", v, ok)
	}
	if _, ok := c.Settings.Get("gpu_mem_util"); ok {
		t.Error("an absent setting is found")
	}
	if got := c.Settings.String(); got != "max_batched_tokens=8192;max_seqs=1024" {
		t.Errorf("settings written as %q", got)
	}
	if rows[1].Engine != "tensorrt-llm" || rows[1].Line != 5 || rows[1].LengthCV != 1 {
		t.Errorf("burst row read as %+v", rows[1])
	}
	if rows[2].RateRPS != 4.5 {
		t.Errorf("rate = %v", rows[2].RateRPS)
	}
	if rows[3].Source != "a, b" || rows[3].DepthTokens != 4096 {
		t.Errorf("prefill row read as %+v", rows[3])
	}
	if rows[4].Concurrency != 1 || rows[4].KVCache != "fp8" {
		t.Errorf("a blank bench concurrency is 1: %+v", rows[4])
	}
	a, b := rows[0], rows[0]
	b.ID, b.Metric, b.Value, b.Source, b.Notes = "c2", TPOTMean, 7, "other", "x"
	if a.Experiment() != b.Experiment() {
		t.Error("rows differing only in metric and value are different experiments")
	}
	b.Concurrency = 8
	if a.Experiment() == b.Experiment() {
		t.Error("rows at different concurrency are one experiment")
	}
}

func TestReadErrors(t *testing.T) {
	edit := func(row, old, new string) string {
		if !strings.Contains(row, old) {
			t.Fatalf("%q not in %q", old, row)
		}
		return strings.Replace(row, old, new, 1)
	}
	cases := []struct {
		name, src string
		want      []string // substrings of the error
	}{
		{"empty", "", []string{"m.csv", "no header"}},
		{"only comments", "# x\n", []string{"no header"}},
		{"wrong header", strings.Replace(header, "kv_cache", "kv", 1) + closedRow, []string{"m.csv:1", "column 6", `"kv"`, `want "kv_cache"`}},
		{"short header", "id,hardware\n", []string{"m.csv:1", "header", "wrong number of fields"}},
		{"old layout", "id,hardware,engine,model,quant,batch,input_tokens,depth_tokens,output_tokens,metric,value,unit,source\n", []string{"wrong number of fields", "want 21"}},
		{"short row", header + "a,b,c\n", []string{"m.csv:2", "row has the wrong number of fields"}},
		{"bad quote", header + `x,"y` + "\n", []string{"m.csv:2"}},
		{"closed-loop without concurrency", header + edit(closedRow, "closed-loop,4,", "closed-loop,,"), []string{"m.csv:2", "column concurrency", "closed-loop row needs concurrency"}},
		{"closed-loop without requests", header + edit(closedRow, ",4,100,", ",4,,"), []string{"column requests", "needs requests"}},
		{"burst with concurrency", header + edit(burstRow, "burst,,", "burst,8,"), []string{"column concurrency", "closed-loop"}},
		{"poisson without rate", header + edit(poisRow, "4.5", ""), []string{"column rate_rps", "needs rate_rps"}},
		{"rate on closed loop", header + edit(closedRow, ",100,,", ",100,3,"), []string{"column rate_rps", "only poisson"}},
		{"unknown kind", header + edit(closedRow, "closed-loop", "closed"), []string{"column kind", `unknown kind "closed"`, "bench-prefill, bench-decode, batched-bench, closed-loop, burst, poisson"}},
		{"unknown engine", header + edit(closedRow, "vllm", "mlc"), []string{"column engine", `unknown engine "mlc"`, "tensorrt-llm"}},
		{"unknown metric", header + edit(closedRow, "ttft_ms_mean", "ttft"), []string{"column metric", "unknown metric"}},
		{"metric of another kind", header + edit(prefRow, "prefill_tps", "decode_tps"), []string{"column metric", "bench-prefill row reports one of prefill_tps"}},
		{"wrong unit", header + edit(closedRow, ",ms,", ",s,"), []string{"column unit", "ttft_ms_mean is in ms"}},
		{"zero value", header + edit(closedRow, "59.1", "0"), []string{"column value", "positive"}},
		{"nan value", header + edit(closedRow, "59.1", "NaN"), []string{"column value"}},
		{"negative tokens", header + edit(closedRow, "233", "-1"), []string{"column input_tokens", "whole number"}},
		{"huge tokens", header + edit(closedRow, "233", "99999999"), []string{"column input_tokens"}},
		{"tp 0", header + edit(closedRow, ",,closed-loop", ",0,closed-loop"), []string{"column tp", "at least 1"}},
		{"bad settings", header + edit(closedRow, "max_seqs=1024", "max_seqs"), []string{"column settings", "not key=value"}},
		{"duplicate setting", header + edit(closedRow, "max_batched_tokens=8192", "max_seqs=8"), []string{"column settings", "twice"}},
		{"blank id", header + edit(closedRow, "c1,", ","), []string{"column id", "blank"}},
		{"duplicate id", header + closedRow + closedRow, []string{"m.csv:3", "column id", "already used on line 2"}},
		{"prefill without input", header + edit(prefRow, ",2048,0,", ",0,0,"), []string{"column input_tokens", "needs input_tokens"}},
		{"decode without output", header + edit(decRow, ",0,32,", ",0,0,"), []string{"column output_tokens"}},
		{"bench with batch", header + edit(prefRow, "bench-prefill,1,", "bench-prefill,4,"), []string{"column concurrency", "one sequence"}},
		{"batched without batch", header + edit(batchRow, "batched-bench,4,", "batched-bench,,"), []string{"column concurrency"}},
		{"serving with depth", header + edit(closedRow, ",221,,", ",221,5,"), []string{"column depth_tokens"}},
		{"tpot of one token", header + edit(edit(closedRow, "ttft_ms_mean", "tpot_ms_mean"), ",221,", ",1,"), []string{"column output_tokens", "at least 2"}},
		{"space in model", header + edit(closedRow, "qwen3-8b", "qwen3 8b"), []string{"column model"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read("m.csv", strings.NewReader(tc.src))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// The project's own files are in this format and read without error.
func TestReadShippedFiles(t *testing.T) {
	for _, path := range []string{"../testdata/published/published-serving.csv"} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := Read(path, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) < 200 {
			t.Errorf("%s: %d rows", path, len(rows))
		}
	}
}

func TestNormalizeEngine(t *testing.T) {
	for in, want := range map[string]string{"trtllm": "tensorrt-llm", "TRTLLM": "tensorrt-llm", " vllm ": "vllm", "llama.cpp": "llama.cpp"} {
		if got, ok := NormalizeEngine(in); !ok || got != want {
			t.Errorf("NormalizeEngine(%q) = %q, %v", in, got, ok)
		}
	}
	if _, ok := NormalizeEngine("mlc"); ok {
		t.Error("mlc is an engine")
	}
}

func FuzzRead(f *testing.F) {
	for _, r := range []string{closedRow, burstRow, poisRow, prefRow, decRow, batchRow} {
		f.Add(header + r)
	}
	f.Add("# x\n" + header)
	f.Add(header + `"a` + "\n")
	f.Fuzz(func(t *testing.T, src string) {
		rows, err := Read("f.csv", strings.NewReader(src))
		if err != nil {
			if rows != nil {
				t.Fatal("rows with an error")
			}
			if !strings.HasPrefix(err.Error(), "f.csv") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, r := range rows {
			if !r.Kind.Valid() || !r.Metric.Valid() || r.Value <= 0 || r.TP < 1 || r.ID == "" || r.Line < 1 {
				t.Fatalf("invalid row accepted: %+v", r)
			}
			if _, ok := NormalizeEngine(r.Engine); !ok {
				t.Fatalf("engine %q accepted", r.Engine)
			}
			if r.Kind == ClosedLoop && r.Concurrency < 1 || r.Kind.Serving() && r.Requests < 1 {
				t.Fatalf("serving row without load accepted: %+v", r)
			}
			s, err := ParseSettings(r.Settings.String())
			if err != nil || s.String() != r.Settings.String() {
				t.Fatalf("settings %q do not round-trip: %v", r.Settings, err)
			}
		}
	})
}
