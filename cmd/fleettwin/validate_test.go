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
			stdout:   []string{"t-prefill", "t-c2-tpot", "not run: 16 devices over 1 machine(s): no node type of h100-sxm has them"},
			lastLine: "validate: n=5 failed=1 median APE "},
		{name: "progress", args: []string{rows}, code: 0, stderr: []string{"validate:", "experiments", "done in"}},
		{name: "row bar", args: []string{rows, "--quiet", "--max-row", "0.0001"}, code: 1,
			stderr: []string{"max APE", "above the bar of 0.0001%"}, lastLine: "validate: n=5 failed=1"},
		{name: "median bar", args: []string{"--max-median", "0.0001", rows, "--quiet"}, code: 1,
			stderr: []string{"median APE", "above the bar"}},
		{name: "generous bars", args: []string{rows, "--quiet", "--max-median", "1e6", "--max-row", "1e6"}, code: 0},
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
			Summary struct{ N, Failed int } `json:"summary"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Rows) != 5 || doc.Summary.N != 5 || doc.Summary.Failed != 1 {
			t.Fatalf("json: %+v", doc)
		}
		if r := doc.Rows[4]; r.ID != "t-tp16" || r.Predicted != nil || r.NotRun == "" {
			t.Errorf("row not run written as %+v", r)
		}
	}
	if outs[0] != outs[1] {
		t.Error("two runs differ")
	}
}
