package calibrate

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/fleettwin/fleettwin/calibrate/ollama"
	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
)

// ollamaBin finds the Ollama that `make test` builds (scripts/build-ollama.sh
// sets FLEETTWIN_OLLAMA). A plain `go test` without it skips the tests
// that need a real engine, and says so.
func ollamaBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("FLEETTWIN_OLLAMA")
	if bin == "" {
		t.Skip("FLEETTWIN_OLLAMA is not set: run `make test`, which builds Ollama and sets it")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("FLEETTWIN_OLLAMA=%s: %v", bin, err)
	}
	return bin
}

func ciSetup(t *testing.T, planEdit func(*Plan)) (*catalog.Catalog, *Plan, *ollama.Server, string) {
	t.Helper()
	bin := ollamaBin(t)
	cat, err := catalog.Load(filepath.Join("testdata", "ci-catalog.toml"))
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := LoadPlan(filepath.Join("testdata", "ci-plan.toml"), cat)
	if err != nil {
		t.Fatal(err)
	}
	if planEdit != nil {
		planEdit(p)
	}
	dir := t.TempDir()
	if keep := os.Getenv("FLEETTWIN_CALIBRATE_DIR"); keep != "" {
		dir = keep // keep the run for a look afterwards
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := ServeLocal(ctx, p, cat, LocalOptions{Bin: bin, Dir: filepath.Join(dir, "ollama"), Threads: 1, Context: 1024, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() }) // by process group, even when the test fails
	return cat, p, srv, dir
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func encodePlan(t *testing.T, p *Plan) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCalibrateOllamaCPU is the sim-to-real check: two random-weight Qwen3
// models served at once by a real Ollama on this CPU, measured alone and
// together, a profile fitted on some experiments and the simulator checked
// against the others.
func TestCalibrateOllamaCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skips the real-engine calibration")
	}
	cat, p, srv, dir := ciSetup(t, nil)
	ctx := context.Background()
	versions := map[string]string{"go": "test"}
	runDir, err := Start(filepath.Join(dir, "runs"), p, encodePlan(t, p), versions)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RecordServers(ctx, runDir, srv, p); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	start := time.Now()
	if err := (&Runner{Plan: p, Dir: runDir, Progress: &progress}).Run(ctx); err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	t.Logf("calibration run took %v", time.Since(start).Round(time.Second))
	if !strings.Contains(progress.String(), "requests, ") || !strings.Contains(progress.String(), "left") {
		t.Errorf("no progress lines:\n%s", progress.String())
	}

	// Every request ran to max_tokens (the special tokens cannot win) and
	// prompts hit their target length once the shaper has learned.
	recs, skipped, err := ReadRequests(runDir)
	if err != nil || skipped != 0 {
		t.Fatalf("read requests: %v (%d skipped)", err, skipped)
	}
	want := 0
	for _, e := range p.Expand() {
		want += e.Requests * len(e.Models)
	}
	var warmups int
	for _, r := range recs {
		if r.Experiment == WarmupID {
			warmups++
		}
	}
	if len(recs)-warmups != want || warmups != 2*len(p.Models) {
		t.Errorf("%d records (%d warm-up), plan has %d requests", len(recs), warmups, want)
	}
	for i, r := range recs {
		if !r.OK() {
			t.Errorf("request %d of %s failed: %s", r.Seq, r.Experiment, r.Error)
			continue
		}
		if r.OutputTokens != r.MaxTokens {
			t.Errorf("%s #%d: %d output tokens, asked for %d (end of sequence sampled?)", r.Experiment, r.Seq, r.OutputTokens, r.MaxTokens)
		}
		if i >= 10 && math.Abs(float64(r.PromptTokens-r.TargetInput)) > 0.05*float64(r.TargetInput)+2 {
			t.Errorf("%s #%d: prompt of %d tokens, target %d", r.Experiment, r.Seq, r.PromptTokens, r.TargetInput)
		}
	}
	samples, err := ReadTelemetry(runDir)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start).Seconds(); float64(len(samples)) < 8*el {
		t.Errorf("%d telemetry samples in %.0f s: below 10 Hz", len(samples), el)
	}
	if _, err := os.Stat(filepath.Join(runDir, ServersFile)); err != nil {
		t.Error(err)
	}

	run, err := LoadRun(runDir, cat)
	if err != nil {
		t.Fatal(err)
	}
	prof, rep, err := run.Fit(ctx, cat, FitOptions{PrefillChunk: 512})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fit: %d observations, step-model error median %.1f%% max %.1f%%; interference %.3f; notes: %v",
		rep.Observations, rep.Step.MedianAbsPct, rep.Step.MaxAbsPct, prof.Interference, rep.Notes)
	t.Logf("coefficients %+v; admission lag %.4f s", prof.Coefficients, prof.AdmissionLagS)
	for _, r := range prof.Rows {
		t.Logf("fit row %-36s measured %9.2f predicted %9.2f %s %+6.1f%%", r.ID, r.Measured, r.Predicted, r.Unit, r.ErrorPct)
	}
	data, err := perf.EncodeProfile(prof, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := perf.ParseProfile("fitted.toml", data); err != nil {
		t.Fatalf("fitted profile does not load back: %v\n%s", err, data)
	}
	if err := os.WriteFile(filepath.Join(runDir, "profile.toml"), data, 0o644); err != nil {
		t.Fatal(err)
	}

	heldOut := true
	cs, err := run.Compare(ctx, cat, prof, &heldOut, ReplayOptions{Dir: filepath.Join(runDir, "check")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		t.Logf("%-32s %-5s %-13s measured %8.4f simulated %8.4f  %+6.1f%%", c.Experiment, c.Model, c.Metric, c.Measured, c.Predicted, c.ErrorPct())
	}
	tpot, n1 := MedianAbsErr(cs, "tpot_p50")
	e2e, n2 := MedianAbsErr(cs, "e2e_p50")
	t.Logf("held out (%v): median |error| TPOT %.1f%% (%d), E2E %.1f%% (%d)", run.HeldOutIDs(), tpot, n1, e2e, n2)
	// The twin must predict the held-out experiments within 35% (median
	// |error|). The bar is set from measured spread: on a quiet 2-core
	// machine the TPOT error of ten runs over two sessions ranged
	// 6.1-33.0% (6.1-33.0% on 2026-12-01), while the two passes of
	// one experiment repeated within 7-13%. The spread is the fit's, not
	// the measurement's: Ollama's CPU decode is not monotone in the batch
	// (two sequences slower in aggregate than one, three as fast as four),
	// and the step model fitted to it moves from run to run. When other
	// work shares the cores the passes themselves repeat worse; the bar
	// then follows them, up to 45%.
	for _, m := range []struct {
		name string
		err  float64
		n    int
	}{{"tpot_p50", tpot, n1}, {"e2e_p50", e2e, n2}} {
		rep, k := Repeatability(cs, m.name)
		limit := 35.0
		if k > 0 && rep > limit {
			limit = min(rep, 45)
		}
		t.Logf("%s: held-out error %.1f%%, passes repeat within %.1f%% (%d pairs): limit %.1f%%", m.name, m.err, rep, k, limit)
		if m.n == 0 || !(m.err <= limit) {
			t.Errorf("held-out median %s error %.1f%%: above %.1f%%", m.name, m.err, limit)
		}
	}
	var svg bytes.Buffer
	if err := Scatter(&svg, cs, "ci", "svg"); err != nil || !strings.Contains(svg.String(), "<svg") {
		t.Errorf("scatter: %v", err)
	}
}

// TestOllamaServerDiesAndRunResumes kills the server in the middle of a
// run: the run stops with a clear error, every record gathered stays on
// disk, and --resume on a fresh server finishes the plan without redoing
// the experiments already complete.
func TestOllamaServerDiesAndRunResumes(t *testing.T) {
	small := func(p *Plan) {
		p.Experiments.Concurrency = []int{1, 2}
		p.Experiments.Inputs = []int{16}
		p.Experiments.Outputs = []int{48}
		p.Experiments.Requests = 4
		p.Experiments.Rates = nil
		p.Experiments.Passes = 1
		p.StallS = 5
	}
	cat, p, srv, dir := ciSetup(t, small)
	ctx := context.Background()
	// Ollama has no Prometheus endpoint; vLLM's format is served beside it
	// so the scrape path runs too.
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `vllm:num_requests_running{model_name="x"} 2`)
		fmt.Fprintln(w, `vllm:kv_cache_usage_perc{model_name="x"} 0.25`)
	}))
	defer metrics.Close()
	p.Models[0].MetricsURL = metrics.URL + "/metrics"
	runDir, err := Start(filepath.Join(dir, "runs"), p, encodePlan(t, p), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Kill the server once a few requests of the plan are recorded.
	go func() {
		for {
			recs, _, _ := ReadRequests(runDir)
			if len(recs) >= 2*len(p.Models)+6 {
				srv.Stop()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	err = (&Runner{Plan: p, Dir: runDir}).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "requests failed") || !strings.Contains(err.Error(), "resume") {
		t.Fatalf("run with a dead server: %v", err)
	}
	t.Logf("first run stopped: %v", err)
	before, _, err := ReadRequests(runDir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadState(runDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Done) == 0 || st.Finished || !strings.Contains(st.Note, "failed") {
		t.Fatalf("state after the failure: %+v", st)
	}

	// A fresh server (new port); resume.
	p2 := *p
	p2.Models = append([]PlanModel(nil), p.Models...)
	for i := range p2.Models {
		p2.Models[i].URL = Local
	}
	srv2, err := ServeLocal(ctx, &p2, cat, LocalOptions{Bin: ollamaBin(t), Dir: filepath.Join(dir, "ollama2"), Threads: 1, Context: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv2.Stop() })
	if err := (&Runner{Plan: &p2, Dir: runDir}).Run(ctx); err != nil {
		t.Fatalf("resume: %v", err)
	}
	after, _, err := ReadRequests(runDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) <= len(before) {
		t.Fatalf("resume added nothing: %d then %d records", len(before), len(after))
	}
	for i, r := range before { // nothing gathered was lost or rewritten
		if after[i].Experiment != r.Experiment || after[i].Seq != r.Seq || after[i].Error != r.Error {
			t.Fatalf("record %d changed on resume", i)
		}
	}
	st, err = ReadState(runDir)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Finished || len(st.Done) != len(p.Expand()) {
		t.Errorf("after resume: finished %v, %d of %d done", st.Finished, len(st.Done), len(p.Expand()))
	}
	for _, id := range st.Done[:len(st.Done)-1] {
		if st.Attempts[id] > 2 {
			t.Errorf("%s attempted %d times", id, st.Attempts[id])
		}
	}
	// The experiments done before the failure ran once; the broken one twice,
	// and its latest attempt is complete.
	var failedBefore int
	for _, r := range before {
		if r.Error != "" {
			failedBefore++
		}
	}
	latest := Latest(after)
	for _, e := range p.Expand() {
		ok := 0
		for _, r := range latest[e.ID] {
			if r.OK() {
				ok++
			}
		}
		if ok != e.Requests*len(e.Models) {
			t.Errorf("%s: %d complete requests in its latest attempt", e.ID, ok)
		}
	}
	t.Logf("%d records before the resume (%d failed), %d after", len(before), failedBefore, len(after))
	scraped, err := os.ReadFile(filepath.Join(runDir, ServerMetricsFile))
	if err != nil || !strings.Contains(string(scraped), `"vllm:kv_cache_usage_perc":0.25`) || strings.Count(string(scraped), "\n") < 10 {
		t.Errorf("server metrics: %v, %d lines", err, strings.Count(string(scraped), "\n"))
	}
}
