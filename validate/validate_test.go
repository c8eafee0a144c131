package validate

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/sim"
)

var (
	envOnce sync.Once
	testEnv Env
)

func env(t testing.TB) Env {
	envOnce.Do(func() {
		cat, err := catalog.Load()
		if err != nil {
			t.Fatal(err)
		}
		ps, err := perf.DefaultProfiles()
		if err != nil {
			t.Fatal(err)
		}
		testEnv = Env{Catalog: cat, Profiles: ps}
	})
	return testEnv
}

const header = "id,hardware,engine,model,quant,kv_cache,tp,kind,concurrency,requests,rate_rps,input_tokens,output_tokens,depth_tokens,length_cv,settings,metric,value,unit,source,notes\n"

func rows(t testing.TB, lines ...string) []measure.Row {
	t.Helper()
	rs, err := measure.Read("t.csv", strings.NewReader(header+strings.Join(lines, "\n")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// serving rows of one closed-loop experiment, every metric.
func closedLoop(id, settings string, c int) []string {
	var out []string
	for _, m := range measure.ServingMetrics {
		out = append(out, strings.Join([]string{id + "-" + string(m), "h100-sxm", "vllm", "qwen3-8b", "bf16", "", "", "closed-loop",
			strconv.Itoa(c), "40", "", "200", "100", "", "0", settings, string(m), "1", m.Unit(), "s", ""}, ","))
	}
	return out
}

func TestNotRun(t *testing.T) {
	cases := []struct {
		name, row, want string
	}{
		{"tensor parallel past every node", "a,h100-sxm,vllm,qwen3-8b,bf16,,16,closed-loop,1,10,,100,100,,0,,ttft_ms_mean,50,ms,s,", "16 devices over 1 machine(s): no node type of h100-sxm has them"},
		{"speculative defaults", "a,h100-sxm,vllm,qwen3-8b,bf16,,,closed-loop,1,10,,100,100,,0,speculative=eagle3,ttft_ms_mean,50,ms,s,", "vllm's defaults are not known"},
		{"spec key alone", "a,h100-sxm,vllm,qwen3-8b,bf16,,,closed-loop,1,10,,100,100,,0,spec_num_steps=4,ttft_ms_mean,50,ms,s,", "spec_num_steps without speculative"},
		{"spec key unknown", "a,h100-sxm,sglang,qwen3-8b,bf16,,,closed-loop,1,10,,100,100,,0,speculative=eagle3;spec_tree_mode=deep,ttft_ms_mean,50,ms,s,", "spec_tree_mode: a speculative-decoding flag the twin does not map"},
		{"spec algorithm", "a,h100-sxm,sglang,qwen3-8b,bf16,,,closed-loop,1,10,,100,100,,0,speculative=medusa,ttft_ms_mean,50,ms,s,", "speculative=medusa"},
		{"spec partial", "a,h100-sxm,sglang,qwen3-8b,bf16,,,closed-loop,1,10,,100,100,,0,speculative=eagle3;spec_num_steps=3,ttft_ms_mean,50,ms,s,", "together or none"},
		{"spec bad steps", "a,h100-sxm,sglang,qwen3-8b,bf16,,,closed-loop,1,10,,100,100,,0,speculative=eagle3;spec_num_steps=40;spec_eagle_topk=1;spec_num_draft_tokens=4,ttft_ms_mean,50,ms,s,", "spec_num_steps=40"},
		{"spec no acceptance", "a,h100-sxm,sglang,qwen3-8b,bf16,,,closed-loop,1,10,,100,100,,0,speculative=eagle3,ttft_ms_mean,50,ms,s,", "no ITL and TPOT"},
		{"expert parallel", "a,h100-sxm,vllm,qwen3-30b-a3b,bf16,,,burst,,10,,100,100,,0,ep=8,ttft_ms_mean,50,ms,s,", "expert parallelism"},
		{"linked nodes", "a,dgx-spark,vllm,qwen3-8b,bf16,,,bench-decode,1,,,0,32,0,0,nodes=2,decode_tps,20,tok/s,s,", "linked machines"},
		{"unknown key", "a,h100-sxm,vllm,qwen3-8b,bf16,,,closed-loop,1,10,,100,100,,0,warp_speed=9,ttft_ms_mean,50,ms,s,", "warp_speed: unknown"},
		{"bad value", "a,h100-sxm,vllm,qwen3-8b,bf16,,,closed-loop,1,10,,100,100,,0,max_seqs=lots,ttft_ms_mean,50,ms,s,", "max_seqs=lots"},
		{"bad fraction", "a,h100-sxm,vllm,qwen3-8b,bf16,,,closed-loop,1,10,,100,100,,0,gpu_mem_util=1.5,ttft_ms_mean,50,ms,s,", "gpu_mem_util"},
		{"unknown device", "a,a100-40gb,vllm,qwen3-8b,bf16,,,closed-loop,1,10,,100,100,,0,,ttft_ms_mean,50,ms,s,", "a100-40gb"},
		{"unknown model", "a,h100-sxm,vllm,llama-9000b,bf16,,,closed-loop,1,10,,100,100,,0,,ttft_ms_mean,50,ms,s,", "llama-9000b"},
		{"unknown bench model", "a,dgx-spark,llama.cpp,llama-9000b,q8_0,,,bench-decode,1,,,0,32,0,0,,decode_tps,20,tok/s,s,", "llama-9000b"},
		{"no profile", "a,h100-sxm,ollama,qwen3-8b,bf16,,,burst,,10,,100,100,,0,,ttft_ms_mean,50,ms,s,", "no profile for h100-sxm with ollama"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Reproduce(context.Background(), env(t), rows(t, tc.row))
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 || res[0].Err == nil {
				t.Fatalf("ran: %+v", res)
			}
			if !strings.Contains(res[0].Err.Error(), tc.want) {
				t.Errorf("reason %q does not contain %q", res[0].Err, tc.want)
			}
			if !math.IsNaN(res[0].Predicted) || !math.IsNaN(res[0].ErrorPct()) {
				t.Errorf("a row not run has a prediction: %v", res[0].Predicted)
			}
			if s := Summarize(res); s.N != 1 || s.Failed != 1 || !math.IsNaN(s.MedianAPE) {
				t.Errorf("summary %+v", s)
			}
		})
	}
}

// A bench row's prediction is the one `fleettwin profile check` makes.
func TestBenchIsProfileCheck(t *testing.T) {
	e := env(t)
	rs := rows(t,
		"p,dgx-spark,llama.cpp,qwen3-8b,q8_0,,,bench-prefill,1,,,2048,0,4096,0,ubatch=2048,prefill_tps,2000,tok/s,s,",
		"d,dgx-spark,llama.cpp,qwen3-8b,q8_0,,,bench-decode,1,,,0,32,4096,0,,decode_tps,30,tok/s,s,",
		"b,dgx-spark,llama.cpp,qwen3-8b,q8_0,,,batched-bench,4,,,512,32,0,0,,decode_tps_aggregate,100,tok/s,s,")
	res, err := Reproduce(context.Background(), e, rs)
	if err != nil {
		t.Fatal(err)
	}
	hw, _ := e.Catalog.HardwareNamed("dgx-spark")
	p, _ := e.Profiles.Get("dgx-spark", "llama.cpp")
	p.PrefillChunk = 2048
	brs := []perf.BenchRow{
		{ID: "p", Hardware: "dgx-spark", Engine: "llama.cpp", Model: "qwen3-8b", Quant: "q8_0", Batch: 1, Input: 2048, Depth: 4096, Metric: perf.MetricPrefill, Value: 2000},
		{ID: "d", Hardware: "dgx-spark", Engine: "llama.cpp", Model: "qwen3-8b", Quant: "q8_0", Batch: 1, Output: 32, Depth: 4096, Metric: perf.MetricDecode, Value: 30},
		{ID: "b", Hardware: "dgx-spark", Engine: "llama.cpp", Model: "qwen3-8b", Quant: "q8_0", Batch: 4, Input: 512, Output: 32, Metric: perf.MetricDecodeAggregate, Value: 100},
	}
	for i, br := range brs {
		q := p
		if i > 0 {
			q, _ = e.Profiles.Get("dgx-spark", "llama.cpp")
		}
		obs, err := perf.BenchObservations(e.Catalog, hw, "fp16", q, []perf.BenchRow{br})
		if err != nil {
			t.Fatal(err)
		}
		want := perf.Evaluate(q, obs)[0].Predicted
		if res[i].Err != nil || res[i].Predicted != want {
			t.Errorf("%s: predicted %v (%v), profile check predicts %v", br.ID, res[i].Predicted, res[i].Err, want)
		}
	}
}

// Serving metrics are consistent with each other, the run is deterministic
// whatever the workers, and an experiment is simulated once.
func TestServing(t *testing.T) {
	rs := rows(t, append(closedLoop("c2", "max_seqs=1024;max_batched_tokens=8192", 2),
		"b,h100-sxm,vllm,qwen3-8b,bf16,,,burst,,50,,300,80,,1,,output_tps_aggregate,1000,tok/s,s,",
		"pz,h100-sxm,vllm,qwen3-8b,fp8,,,poisson,,60,2,300,80,,0.5,chunked_prefill=0,request_rps,2,req/s,s,",
		"pz2,h100-sxm,vllm,qwen3-8b,fp8,,,poisson,,60,2,300,80,,0.5,chunked_prefill=0,ttft_ms_p99,200,ms,s,")...)
	var calls, total int
	e := env(t)
	e.Progress = func(done, n int) { calls, total = done, n }
	res, err := Reproduce(context.Background(), e, rs)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || total != 3 {
		t.Errorf("progress saw %d of %d experiments, want 3 of 3", calls, total)
	}
	got := map[measure.Metric]float64{}
	for _, r := range res[:len(measure.ServingMetrics)] {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.ID, r.Err)
		}
		got[r.Metric] = r.Predicted
	}
	// Fixed lengths, 40 requests of 100 output tokens.
	if tps, rps := got[measure.OutputTPSAggregate], got[measure.RequestRPS]; math.Abs(tps-100*rps) > 1e-6*tps {
		t.Errorf("output tok/s %v is not 100 × request/s %v", tps, rps)
	}
	if got[measure.TTFTP99] < got[measure.TTFTMean] || math.Abs(got[measure.TPOTMean]-got[measure.ITLMean]) > 1e-6*got[measure.ITLMean] {
		t.Errorf("inconsistent latencies %v", got)
	}
	if e2e := got[measure.TTFTMean] + 99*got[measure.TPOTMean]; math.Abs(e2e-got[measure.E2EMean]) > 1e-6*e2e {
		t.Errorf("e2e %v is not ttft + 99 tpot = %v", got[measure.E2EMean], e2e)
	}
	for _, r := range res {
		if r.Err != nil || !(r.Predicted > 0) {
			t.Errorf("%s: %v, %v", r.ID, r.Predicted, r.Err)
		}
	}
	one := e
	one.Workers, one.Progress = 1, nil
	again, err := Reproduce(context.Background(), one, rs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range res {
		if math.Float64bits(res[i].Predicted) != math.Float64bits(again[i].Predicted) {
			t.Errorf("%s: %v then %v", res[i].ID, res[i].Predicted, again[i].Predicted)
		}
	}
}

func TestMetrics(t *testing.T) {
	b := records{reqs: []sim.RequestRecord{
		{ArrivalS: 0, TTFTS: 0.1, E2ES: 1.1, Output: 11},
		{ArrivalS: 1, TTFTS: 0.3, E2ES: 0.3, Output: 1},
		{ArrivalS: 2, TTFTS: 0.2, E2ES: 2.2, Output: 5},
	}}
	m := b.metrics(1)
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("ttft mean", m.ttftMean, 200)
	near("ttft p99", m.ttftP99, 1e3*(0.2+0.98*0.1))
	near("tpot mean", m.tpotMean, 1e3*(0.1+0.5)/2)
	near("itl mean", m.itlMean, 1e3*3.0/14)
	near("e2e mean", m.e2eMean, 1e3*3.6/3)
	near("output tok/s", m.outputTPS, 17/4.2)
	near("request/s", m.requestRPS, 3/4.2)
	near("p50 of 4", percentile([]float64{4, 1, 3, 2}, 50), 2.5)
}

func TestSummarize(t *testing.T) {
	r := func(id string, v, pred float64) Result {
		return Result{Row: measure.Row{ID: id, Value: v}, Predicted: pred}
	}
	s := Summarize([]Result{r("a", 100, 110), r("b", 100, 80), r("c", 100, 101), {Row: measure.Row{ID: "x"}, Err: context.Canceled}})
	if s.N != 4 || s.Failed != 1 || s.MedianAPE != 10 || s.MaxAPE != 20 || s.WorstID != "b" {
		t.Errorf("summary %+v", s)
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Reproduce(ctx, env(t), rows(t, closedLoop("c", "", 4)...)); err != context.Canceled {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// Prepared experiments reproduced against several candidate profiles, at
// once, give what Reproduce gives on the same rows with each profile.
func TestPreparedAcrossProfiles(t *testing.T) {
	rs := rows(t, append(closedLoop("c2", "max_seqs=1024;max_batched_tokens=8192", 2),
		"b,h100-sxm,vllm,qwen3-8b,bf16,,,burst,,50,,300,80,,1,,output_tps_aggregate,1000,tok/s,s,",
		"x,h100-sxm,vllm,qwen3-8b,bf16,,2,burst,,50,,300,80,,1,attention_dp=true,output_tps_aggregate,1000,tok/s,s,")...)
	x := Prepare(rs)
	if x.Len() != 3 || len(Group(rs)) != 3 {
		t.Fatalf("%d experiments, want 3", x.Len())
	}
	base, err := env(t).Profiles.Get("h100-sxm", "vllm")
	if err != nil {
		t.Fatal(err)
	}
	envs := make([]Env, 3)
	for i := range envs {
		p := base
		p.Coefficients.WeightBandwidthEff *= 1 - 0.1*float64(i)
		set := perf.ProfileSet{}
		set.Add(p)
		envs[i] = Env{Catalog: env(t).Catalog, Profiles: set}
	}
	got := make([][]Result, len(envs))
	var wg sync.WaitGroup
	for i := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = x.Reproduce(context.Background(), envs[i])
		}()
	}
	wg.Wait()
	for i, e := range envs {
		want, err := Reproduce(context.Background(), e, rs)
		if err != nil {
			t.Fatal(err)
		}
		for j := range want {
			if math.Float64bits(got[i][j].Predicted) != math.Float64bits(want[j].Predicted) || (got[i][j].Err == nil) != (want[j].Err == nil) {
				t.Errorf("profile %d, %s: prepared %v (%v), Reproduce %v (%v)", i, want[j].ID, got[i][j].Predicted, got[i][j].Err, want[j].Predicted, want[j].Err)
			}
		}
		if i > 0 && got[i][2].Predicted == got[0][2].Predicted { // TPOT
			t.Errorf("profile %d: the profile changed nothing", i)
		}
	}
	if Runnable(&rs[len(rs)-1]) == nil || Runnable(&rs[0]) != nil {
		t.Errorf("Runnable: %v, %v", Runnable(&rs[len(rs)-1]), Runnable(&rs[0]))
	}
}
