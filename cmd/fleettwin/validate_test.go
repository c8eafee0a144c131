package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	rows := filepath.Join("testdata", "validate", "rows.csv")
	cases := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings of stdout
		stderr   []string // substrings of stderr
		lastLine string   // prefix of stdout's last line
	}{
		{name: "rows", args: []string{rows, "--quiet"}, code: 0,
			stdout: []string{"t-prefill", "t-c2-tpot", "not run: 16 devices over 1 machine(s): no node type of h100-sxm has them",
				"ENGINE     HARDWARE   ROWS  RUN  MEDIAN APE  MAX APE  PROFILE\n", "\nvllm       h100-sxm   3     2    ", "\nllama.cpp  dgx-spark  2     2    "},
			lastLine: "validate: n=5 failed=1 median APE "},
		{name: "progress", args: []string{rows}, code: 0, stderr: []string{"validate:", "experiments", "done in"}},
		{name: "row bar", args: []string{rows, "--quiet", "--max-row", "0.0001"}, code: 1,
			stderr: []string{"max APE", "above the bar of 0.0001%"}, lastLine: "validate: n=5 failed=1"},
		{name: "median bar", args: []string{"--max-median", "0.0001", rows, "--quiet"}, code: 1,
			stderr: []string{"median APE", "above the bar"}},
		{name: "generous bars", args: []string{rows, "--quiet", "--max-median", "1e6", "--max-row", "1e6"}, code: 0},
		{name: "scenarios", args: []string{rows, "--quiet", "--scenarios", filepath.Join(t.TempDir(), "sc")}, code: 0,
			stderr: []string{"validate: 1 scenario(s) written to "}, lastLine: "validate: n=5 failed=1 median APE "},
		{name: "scenarios into a file", args: []string{rows, "--quiet", "--scenarios", rows}, code: 1,
			stderr: []string{"export scenarios: ", "rows.csv"}},
		{name: "no files", args: nil, code: 2, stderr: []string{"at least one measurement CSV"}},
		{name: "negative bar", args: []string{rows, "--max-row", "-1"}, code: 2, stderr: []string{"--max-row"}},
		{name: "missing file", args: []string{"testdata/validate/nope.csv"}, code: 1, stderr: []string{"nope.csv"}},
		{name: "closed loop without concurrency", args: []string{"testdata/validate/bad-kind.csv"}, code: 1,
			stderr: []string{"testdata/validate/bad-kind.csv:3: column concurrency", "closed-loop row needs concurrency"}},
		{name: "bad header", args: []string{"testdata/validate/bad-header.csv"}, code: 1,
			stderr: []string{"bad-header.csv:1", "wrong number of fields"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := fleettwin(t, append([]string{"validate"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tc.lastLine != "" {
				lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
				if last := lines[len(lines)-1]; !strings.HasPrefix(last, tc.lastLine) || !strings.HasSuffix(last, "%") {
					t.Errorf("last line %q, want %q...%%", last, tc.lastLine)
				}
			}
		})
	}
}

func TestValidateJSONDeterministic(t *testing.T) {
	dir := t.TempDir()
	var outs []string
	for i := range 2 {
		path := filepath.Join(dir, "out"+string(rune('a'+i))+".json")
		out, errOut, code := fleettwin(t, "validate", "--quiet", "--json", path, "testdata/validate/rows.csv")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out+string(b))
		var doc struct {
			Rows []struct {
				ID        string   `json:"id"`
				Predicted *float64 `json:"predicted"`
				NotRun    string   `json:"not_run"`
			} `json:"rows"`
			Groups []struct {
				Engine, Hardware, Profile string
				Rows, Run                 int
				MedianAPE                 *float64 `json:"median_ape_pct"`
			} `json:"groups"`
			Summary struct{ N, Failed int } `json:"summary"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Rows) != 5 || doc.Summary.N != 5 || doc.Summary.Failed != 1 {
			t.Fatalf("json: %+v", doc)
		}
		// The rows' engines and devices in the order of their first rows:
		// two llama.cpp benches on the Spark, then three vLLM rows on the
		// H100 of which one is not run.
		if g := doc.Groups; len(g) != 2 || g[0].Engine != "llama.cpp" || g[0].Rows != 2 || g[0].Run != 2 ||
			g[1].Hardware != "h100-sxm" || g[1].Rows != 3 || g[1].Run != 2 || g[1].Profile != "fitted" || g[1].MedianAPE == nil {
			t.Errorf("groups %+v", g)
		}
		if r := doc.Rows[4]; r.ID != "t-tp16" || r.Predicted != nil || r.NotRun == "" {
			t.Errorf("row not run written as %+v", r)
		}
	}
	if outs[0] != outs[1] {
		t.Error("two runs differ")
	}
}

// TestValidateFormatPrior: a gpt-oss-20b MXFP4 row says it rests on a
// format prior, in a note after the table and in --json (provenance,
// format_priors, prior); a Qwen3-14B Q4_K_M row on the same fitted profile
// does not; the summary stays the last line.
func TestValidateFormatPrior(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "rows.csv")
	data := "id,hardware,engine,model,quant,kv_cache,tp,kind,concurrency,requests,rate_rps,input_tokens,output_tokens,depth_tokens,length_cv,settings,metric,value,unit,source,notes\n" +
		"oss-pp,dgx-spark,llama.cpp,gpt-oss-20b,mxfp4,,,bench-prefill,1,,,2048,0,0,0,ubatch=2048,prefill_tps,3610,tok/s,s,\n" +
		"q14-tg,dgx-spark,llama.cpp,qwen3-14b,q4_k_m,,,bench-decode,1,,,0,32,0,0,,decode_tps,25,tok/s,s,\n"
	if err := os.WriteFile(csv, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "out.json")
	out, errOut, code := fleettwin(t, "validate", "--quiet", "--json", js, csv)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !hasLine(out, "note: oss-pp rests on a format prior: mxfp4 experts: prior (fp4_compute_rel not fitted") || strings.Contains(out, "note: q14-tg") {
		t.Errorf("notes:\n%s", out)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "validate: n=2 failed=0 median APE ") {
		t.Errorf("last line %q", last)
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rows []struct {
			ID           string   `json:"id"`
			Provenance   string   `json:"provenance"`
			FormatPriors []string `json:"format_priors"`
			Prior        bool     `json:"prior"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	oss, q14 := doc.Rows[0], doc.Rows[1]
	if !oss.Prior || len(oss.FormatPriors) != 1 || !strings.HasPrefix(oss.FormatPriors[0], "mxfp4 experts: prior") ||
		!strings.HasPrefix(oss.Provenance, "llama.cpp on dgx-spark: fitted") || !strings.HasSuffix(oss.Provenance, oss.FormatPriors[0]) {
		t.Errorf("gpt-oss row %+v", oss)
	}
	if q14.Prior || len(q14.FormatPriors) != 0 || !strings.HasPrefix(q14.Provenance, "llama.cpp on dgx-spark: fitted") || strings.Contains(q14.Provenance, "prior") {
		t.Errorf("qwen3-14b row %+v", q14)
	}
}
