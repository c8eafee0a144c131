package validate

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleettwin/fleettwin/scenario"
)

// Export writes each serving experiment's scenario and trace; the files
// parse back, and the burst's run from them gives Reproduce's output rate
// (its lengths are in the trace, so the exported seed does not matter).
// Bench rows and rows that cannot run are skipped.
func TestExport(t *testing.T) {
	rs := rows(t,
		"b/1,h100-sxm,vllm,qwen3-8b,bf16,,,burst,,30,,300,40,,1,,output_tps_aggregate,1000,tok/s,s,",
		"cl,h100-sxm,vllm,qwen3-8b,bf16,,,closed-loop,2,10,,200,20,,0,,tpot_ms_mean,10,ms,s,",
		"pp,dgx-spark,llama.cpp,qwen3-8b,q8_0,,,bench-prefill,1,,,512,,0,,,prefill_tps,1000,tok/s,s,",
		"bad,h100-sxm,vllm,qwen3-8b,bf16,,,burst,,30,,300,40,,1,no_such_knob=1,output_tps_aggregate,1000,tok/s,s,")
	e := env(t)
	x := Prepare(rs)
	dir := t.TempDir()
	ex, err := x.Export(e, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 2 || ex[0].ID != "b/1" || ex[1].ID != "cl" || ex[1].Trace != "" {
		t.Fatalf("exported %+v, want the burst (with a trace) and the closed loop", ex)
	}
	if filepath.Dir(ex[0].Scenario) != dir || filepath.Base(ex[0].Scenario) != "b_1.toml" {
		t.Errorf("scenario file %s: want b_1.toml in %s", ex[0].Scenario, dir)
	}
	data, err := os.ReadFile(ex[0].Scenario)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Parse(ex[0].Scenario, data, e.Catalog, e.Profiles, os.DirFS(dir))
	if err != nil {
		t.Fatalf("exported scenario does not parse: %v", err)
	}
	var buf records
	if err := run(context.Background(), sc, 30, &buf); err != nil {
		t.Fatal(err)
	}
	res, err := x.Reproduce(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	got, want := buf.metrics(1).value("output_tps_aggregate"), res[0].Predicted
	if len(buf.reqs) != 30 || math.Float64bits(got) != math.Float64bits(want) {
		t.Errorf("exported burst: %d requests, %v tok/s; Reproduce: %v", len(buf.reqs), got, want)
	}
	if _, err := os.Stat(ex[1].Scenario); err != nil {
		t.Error(err)
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{"a-b_c.1": "a-b_c.1", "../x": ".._x", "a/b c": "a_b_c", "..": "row", "": "row"} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}
