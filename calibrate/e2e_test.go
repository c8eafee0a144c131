package calibrate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
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

// ciColocation loads the co-location plan `make test` runs, with its text
// edited (from, to pairs) before it is parsed, and the folder its runs go
// under.
func ciColocation(t *testing.T, edits ...string) (*catalog.Catalog, *Plan, []byte, string) {
	t.Helper()
	cat, err := catalog.Load(filepath.Join("testdata", "ci-catalog.toml"))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(edit(colocationPlan(t), edits...))
	p, err := ParsePlan("ci-colocation.toml", data, cat)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if keep := os.Getenv("FLEETTWIN_CALIBRATE_DIR"); keep != "" {
		dir = keep // keep the run for a look afterwards
	}
	return cat, p, data, dir
}

// managed is a Runner that starts the plan's Ollama servers itself, as
// `fleettwin calibrate run --ollama BIN` does.
func managed(t *testing.T, cat *catalog.Catalog, p *Plan, dir string, progress io.Writer) *Runner {
	return &Runner{Plan: p, Dir: dir, Progress: progress, Servers: &ServerOptions{Catalog: cat, Ollama: ollamaBin(t)}}
}

// serversGone checks that every server the run recorded has no process
// left in its process group (Ollama's runners included).
func serversGone(t *testing.T, runDir string) *ServerRecords {
	t.Helper()
	recs, err := ReadServers(runDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs.Servers {
		if r.PID == 0 {
			t.Errorf("server %s (%s): no pid recorded", r.Name, r.Sharing)
			continue
		}
		if left := waitGone(t, r.PID); len(left) > 0 {
			t.Errorf("server %s (%s, pid %d) left processes %v running", r.Name, r.Sharing, r.PID, left)
		}
		if r.Stopped == nil {
			t.Errorf("server %s (%s): no stop recorded", r.Name, r.Sharing)
		}
	}
	return recs
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

// TestCalibrateOllamaCPU is the sim-to-real check of co-location: the run
// starts two Ollama servers itself, one random-weight Qwen3 model each, on
// this CPU; measures each alone and both together; stops them; a profile
// is fitted on some experiments and the simulator checked against the
// others.
func TestCalibrateOllamaCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skips the real-engine calibration")
	}
	cat, p, planData, dir := ciColocation(t)
	ctx := context.Background()
	versions := map[string]string{"go": "test"}
	runDir, err := Start(filepath.Join(dir, "runs"), p, planData, versions)
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	start := time.Now()
	if err := managed(t, cat, p, runDir, io.MultiWriter(&progress, testWriter{t})).Run(ctx); err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("calibration run took %v", time.Since(start).Round(time.Second))
	if !strings.Contains(progress.String(), "requests, ") || !strings.Contains(progress.String(), "left") {
		t.Errorf("no progress lines:\n%s", progress.String())
	}
	recs := serversGone(t, runDir)
	if len(recs.Servers) != 2 {
		t.Fatalf("%d server records, want 2: %+v", len(recs.Servers), recs.Servers)
	}
	for _, r := range recs.Servers {
		if !r.Managed || r.Sharing != scenario.MPS || r.Version == "" || r.KV == nil || r.KV.Tokens != 1024*4 ||
			r.Env["OLLAMA_NUM_PARALLEL"] != "4" || r.Exit != "exit status 0" || len(r.Models) != 1 {
			t.Errorf("server record %+v (KV %+v)", r, r.KV)
		}
		if log, err := os.ReadFile(filepath.Join(runDir, r.Log)); err != nil || !strings.Contains(string(log), "Listening on") {
			t.Errorf("server %s log: %v", r.Name, err)
		}
	}
	st, err := ReadState(runDir)
	if err != nil || !strings.HasPrefix(st.Versions["server ollama-a"], "ollama ") {
		t.Errorf("run.json versions %v, %v", st.Versions, err)
	}

	// Every request ran to max_tokens (the special tokens cannot win) and
	// prompts hit their target length once the shaper has learned.
	requests, skipped, err := ReadRequests(runDir)
	if err != nil || skipped != 0 {
		t.Fatalf("read requests: %v (%d skipped)", err, skipped)
	}
	want := 0
	for _, e := range p.Expand() {
		want += e.Requests * len(e.Models)
	}
	var warmups int
	for _, r := range requests {
		if r.Experiment == WarmupID {
			warmups++
		}
	}
	if len(requests)-warmups != want || warmups != 2*len(p.Models) {
		t.Errorf("%d records (%d warm-up), plan has %d requests", len(requests), warmups, want)
	}
	for i, r := range requests {
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
	// The 12 together experiments not held out (mps: this host's default)
	// fit the MPS memory contention, with a standard error from the
	// replays' curvature, where the replays move with it: in the simulator
	// it acts only while the two instances ask for more bandwidth than
	// there is, which depends on the step model this run fitted (the
	// recorded run's does: 0.2052 ± 0.092). Where they do not, or their
	// error does not curve up at the best value (on a busy host the
	// replays' optimum can sit on a bound with no curvature: no standard
	// error), the prior is kept and the source says so.
	what := "mps_memory_contention %s 12 together experiments of run " + filepath.Base(runDir) + " (mps)"
	switch s := prof.Sharing; {
	case s == nil:
		t.Errorf("no [sharing] table: %v", rep.Notes)
	case strings.Contains(s.Source, fmt.Sprintf(what, "fitted on")+", held-out error "):
		if !(s.MPSMemoryContention >= 0 && s.MPSMemoryContention <= 1) || !(s.MPSMemoryContentionStdErr > 0) {
			t.Errorf("sharing fit: %+v", s)
		}
	case strings.Contains(s.Source, fmt.Sprintf(what, "prior kept: the replays of")+" do not move with it"),
		strings.Contains(s.Source, fmt.Sprintf(what, "prior kept: the replays of")+" do not identify it"):
		if s.MPSMemoryContention != perf.DefaultSharing().MPSMemoryContention || s.MPSMemoryContentionStdErr != 0 {
			t.Errorf("prior kept, but: %+v", s)
		}
	default:
		t.Errorf("sharing source %q", s.Source)
	}
	if s := prof.Sharing; s != nil {
		t.Logf("sharing: mps_memory_contention %.4g ± %.2g; interference %.4g; %s", s.MPSMemoryContention, s.MPSMemoryContentionStdErr, prof.Interference, s.Source)
	}
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

// smallGrid cuts the co-location plan to a few seconds per mode: one
// user, short prompts, two requests per point, no rates, one pass.
var smallGrid = []string{
	"concurrency = [1, 2, 3, 4]", "concurrency = [1]", "inputs = [48, 192]", "inputs = [16]", "outputs = [24]", "outputs = [8]",
	"requests = 10", "requests = 2", "rates = [1.0, 2.0, 3.0]", "rates = []", "passes = 2", "passes = 1",
}

// TestOllamaServerDiesAndRunResumes kills one of the run's servers in the
// middle of a run: the run stops with an error naming that server and
// ending with its log, the other server is stopped, every record gathered
// stays on disk, and --resume (which starts both servers afresh) finishes
// the plan without redoing the experiments already complete.
func TestOllamaServerDiesAndRunResumes(t *testing.T) {
	cat, p, _, dir := ciColocation(t, "concurrency = [1, 2, 3, 4]", "concurrency = [1, 2]", "inputs = [48, 192]", "inputs = [16]",
		"outputs = [24]", "outputs = [48]", "requests = 10", "requests = 4", "rates = [1.0, 2.0, 3.0]", "rates = []", "passes = 2", "passes = 1",
		"stall_s = 60", "stall_s = 5")
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
	// Kill server ollama-b's process group once a few requests of the
	// plan are recorded.
	killed := make(chan int, 1)
	go func() {
		for {
			recs, _, _ := ReadRequests(runDir)
			if servers, err := ReadServers(runDir); err == nil && len(recs) >= 2*len(p.Models)+6 {
				for _, s := range servers.Servers {
					if s.Name == "ollama-b" {
						syscall.Kill(-s.PID, syscall.SIGKILL)
						killed <- s.PID
						return
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	err = managed(t, cat, p, runDir, testWriter{t}).Run(ctx)
	for _, want := range []string{"server ollama-b exited during the run (signal: killed); its log is " + filepath.Join(runDir, "servers", "ollama-b.log"),
		"during alone-ci-", "records gathered are kept in " + runDir, "resume with --resume " + runDir} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("run with a dying server: error lacks %q:\n%v", want, err)
		}
	}
	t.Logf("first run stopped: %v", err)
	select {
	case <-killed:
	default:
		t.Fatal("the server was never killed")
	}
	for _, s := range serversGone(t, runDir).Servers { // ollama-a, still healthy, was stopped with the run
		if s.Died != (s.Name == "ollama-b") {
			t.Errorf("server %s: died %v", s.Name, s.Died)
		}
	}
	before, _, err := ReadRequests(runDir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadState(runDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Done) == 0 || st.Finished || !strings.Contains(st.Note, "server ollama-b exited during the run") {
		t.Fatalf("state after the failure: %+v", st)
	}

	// Resume as `calibrate run --resume` does: the plan from the run
	// folder, the servers started afresh on new ports.
	p2, _, err := LoadRunPlan(runDir, cat)
	if err != nil {
		t.Fatal(err)
	}
	if err := managed(t, cat, p2, runDir, testWriter{t}).Run(ctx); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if recs := serversGone(t, runDir); len(recs.Servers) != 4 {
		t.Errorf("%d server records after the resume, want 2 starts of 2", len(recs.Servers))
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
