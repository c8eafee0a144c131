package validate

import (
	"context"
	"strings"
	"testing"
)

// TestRowLayout reads a row's tp column and its pp, ep, expert_parallel
// and nodes settings.
func TestRowLayout(t *testing.T) {
	for _, tt := range []struct {
		name, tp, settings string
		want               layoutKnobs
		err                string
	}{
		{"blank", "", "", layoutKnobs{1, 1, 1, 1}, ""},
		{"tp", "4", "", layoutKnobs{4, 1, 1, 1}, ""},
		{"pp and ep", "4", "pp=2;ep=2", layoutKnobs{4, 2, 2, 1}, ""},
		{"expert_parallel spans tp", "8", "expert_parallel=true", layoutKnobs{8, 1, 8, 1}, ""},
		{"linked machines", "2", "ep=2;nodes=2", layoutKnobs{2, 1, 2, 2}, ""},
		{"disagreeing ep", "8", "ep=4;expert_parallel=true", layoutKnobs{}, "disagree"},
		{"ep not dividing tp", "", "ep=8", layoutKnobs{}, "setting ep=8: expert parallelism spreads the experts over the tensor-parallel devices, and ep must divide tp (1)"},
		{"bad pp", "2", "pp=two", layoutKnobs{}, "setting pp=two"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := rows(t, "a,h100-sxm,vllm,qwen3-30b-a3b,bf16,,"+tt.tp+",burst,,10,,100,100,,0,"+tt.settings+",ttft_ms_mean,50,ms,s,")[0]
			got, err := rowLayout(&r)
			switch {
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want %q", err, tt.err)
			case tt.err == "" && (err != nil || got != tt.want):
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestNodeTypeFor: a row's device, devices and machines pick the node
// type with the fewest devices that has enough.
func TestNodeTypeFor(t *testing.T) {
	cat := env(t).Catalog
	for _, tt := range []struct {
		hw                string
		devices, machines int
		want, err         string
	}{
		{"h100-sxm", 2, 1, "hgx-h100-8", ""},
		{"h100-sxm", 8, 1, "hgx-h100-8", ""},
		{"dgx-spark", 2, 2, "dgx-spark-pair", ""},
		{"l40s", 4, 1, "l40s-pcie-4", ""},
		{"dgx-spark", 4, 4, "dgx-spark-quad", ""},
		{"dgx-spark", 8, 8, "", "8 devices over 8 machine(s): no node type of dgx-spark has them (the catalog's: dgx-spark-pair, 2 devices"},
		{"dgx-spark", 2, 1, "", "no node type of dgx-spark has them"},
		{"a100-80gb", 2, 1, "", "(the catalog's: none)"},
	} {
		got, err := nodeTypeFor(cat, tt.hw, tt.devices, tt.machines)
		if got != tt.want || (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s × %d over %d: %q, %v; want %q, %q", tt.hw, tt.devices, tt.machines, got, err, tt.want, tt.err)
		}
	}
}

// TestTensorParallelRowsRun: an H100 row with tp = 2 runs on two GPUs of
// hgx-h100-8, and its decode is faster per token than the same row on
// one GPU; a row of two linked Sparks runs on dgx-spark-pair.
func TestTensorParallelRowsRun(t *testing.T) {
	rs := rows(t,
		"one,h100-sxm,vllm,qwen3-32b,bf16,,,closed-loop,1,10,,500,200,,0,,tpot_ms_mean,20,ms,s,",
		"two,h100-sxm,vllm,qwen3-32b,bf16,,2,closed-loop,1,10,,500,200,,0,,tpot_ms_mean,12,ms,s,",
		"pair,dgx-spark,vllm,qwen3-30b-a3b,fp8,fp8,2,closed-loop,1,4,,512,128,,0,ep=2;nodes=2,output_tps_aggregate,40,tok/s,s,",
		"bench,dgx-spark,llama.cpp,qwen3-8b,q8_0,,2,bench-decode,1,,,0,32,0,0,,decode_tps,20,tok/s,s,")
	res, err := Reproduce(context.Background(), env(t), rs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res[:3] {
		if !r.Ran() || !(r.Predicted > 0) {
			t.Errorf("%s: %v (%v)", r.ID, r.Predicted, r.Err)
		}
	}
	if one, two := res[0].Predicted, res[1].Predicted; !(two < 0.75*one) {
		t.Errorf("TPOT at tp 2 %.2f ms, at tp 1 %.2f ms: want well below", two, one)
	}
	if res[3].Ran() || !strings.Contains(res[3].Err.Error(), "bench rows over several devices") {
		t.Errorf("a bench row at tp 2: %v", res[3].Err)
	}
}
