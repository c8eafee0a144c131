package calibrate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fleettwin/fleettwin/calibrate/openai"
	"github.com/fleettwin/fleettwin/calibrate/telemetry"
)

// Runner executes a plan.
type Runner struct {
	Plan *Plan
	Dir  string
	// Progress receives one-line updates (done/total, rate, time left).
	Progress io.Writer
	// Telemetry is sampled for the whole run; nil opens the best source.
	Telemetry telemetry.Source
	// FailFraction stops the run when more than this share of an
	// experiment's requests fail (default 0.5): the server is likely gone.
	FailFraction float64

	// Servers, when set, let Run start and stop the plan's [[servers]];
	// a plan with servers is refused without them.
	Servers *ServerOptions

	release func() // the run folder's lock, while held
	book    *serverBook
	mu      sync.Mutex // the plan's model URLs and the state's versions, as servers start
}

// Run executes the plan's experiments not yet done, appending records;
// mode by mode (Plan.Modes), it starts the plan's servers (with Servers
// set), warms them up, runs that mode's experiments and stops them. Call
// it again on the same directory to resume.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.Lock(); err != nil {
		return err
	}
	defer r.Unlock()
	st, err := ReadState(r.Dir)
	if err != nil {
		return err
	}
	if err := r.repairFiles(); err != nil {
		return err
	}
	st.keepModes(r.Plan)
	if len(r.Plan.Servers) > 0 && r.Servers == nil {
		return fmt.Errorf("plan %s starts its own servers ([[servers]]): only `fleettwin calibrate run` starts server processes, and this caller does not", r.Plan.Name)
	}
	if r.book, err = openBook(r.Dir); err != nil {
		return err
	}
	reqs, err := os.OpenFile(filepath.Join(r.Dir, RequestsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer reqs.Close()

	tctx, stopTelemetry := context.WithCancel(ctx)
	var twg sync.WaitGroup
	if err := r.startTelemetry(tctx, &twg); err != nil {
		stopTelemetry()
		return err
	}
	defer func() { stopTelemetry(); twg.Wait() }()

	exps := r.Plan.Expand()
	total, done := 0, 0
	for _, e := range exps {
		total += r.expectedRequests(e)
		if st.done(e.ID) {
			done += r.expectedRequests(e)
		}
	}
	prog := &progress{w: r.Progress, total: total, done: done, start: time.Now()}
	prompts := map[string]*promptShaper{}
	for i := 0; i < len(exps); {
		j := i
		for j < len(exps) && exps[j].Sharing == exps[i].Sharing {
			j++
		}
		if slices.ContainsFunc(exps[i:j], func(e Experiment) bool { return !st.done(e.ID) }) {
			if err := r.runMode(ctx, exps[i:j], i, len(exps), st, reqs, prompts, prog); err != nil {
				return err
			}
		}
		i = j
	}
	prog.finish()
	st.Finished = true
	return st.write(r.Dir)
}

// runMode runs the experiments of one sharing mode (exps, the ones from
// index first of n): its servers up, a warm-up, each experiment not done,
// its servers down.
func (r *Runner) runMode(ctx context.Context, exps []Experiment, first, n int, st *State, reqs io.Writer, prompts map[string]*promptShaper, prog *progress) error {
	mode := exps[0].Sharing
	stk, err := r.startMode(ctx, mode, st)
	if err != nil {
		st.Note = fmt.Sprintf("stopped starting the %s servers: %v", mode, err)
		_ = st.write(r.Dir)
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while starting the %s servers; resume with --resume %s", mode, r.Dir)
		}
		return fmt.Errorf("mode %s: %w; resume with --resume %s once it is fixed", mode, err, r.Dir)
	}
	defer stk.stop()
	if err := st.write(r.Dir); err != nil { // the servers' versions
		return err
	}
	mctx := stk.ctx
	sctx, stopScrapes := context.WithCancel(mctx)
	var swg sync.WaitGroup
	defer func() { stopScrapes(); swg.Wait() }()
	if err := r.startScrapes(sctx, &swg); err != nil {
		return err
	}
	died := func(during string) error {
		se := stk.died()
		if se == nil {
			return nil
		}
		st.Note = fmt.Sprintf("stopped %s: server %s %s", during, se.Server, se.What)
		_ = st.write(r.Dir)
		return fmt.Errorf("%w\nduring %s; the records gathered are kept in %s: resume with --resume %s", se, during, r.Dir, r.Dir)
	}
	// A server's first request pays for loading and graph set-up; one
	// request per model, recorded as experiment "warmup" and never
	// analysed, keeps that out of the first experiment.
	warm := Experiment{ID: WarmupID, Kind: Warmup, Models: r.modelNames(), Concurrency: 1, Input: 16, Output: 4, Requests: 2, Sharing: mode}
	if _, _, _, last, err := r.experiment(mctx, warm, st.Attempts[WarmupID]+1, reqs, prompts, &progress{}); err != nil {
		return err
	} else if err := died("the warm-up"); err != nil {
		return err
	} else if last != "" {
		r.logf("calibrate: warm-up request failed: %s", last)
	}
	st.Attempts[WarmupID]++
	for i, e := range exps {
		if st.done(e.ID) {
			continue
		}
		st.Attempts[e.ID]++
		if err := st.write(r.Dir); err != nil {
			return err
		}
		prog.exp = fmt.Sprintf("%d/%d %s", first+i+1, n, e.ID)
		failed, unreachable, n, last, err := r.experiment(mctx, e, st.Attempts[e.ID], reqs, prompts, prog)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during %s: %d requests recorded; resume with --resume %s", e.ID, n, r.Dir)
		}
		if stk.died() != nil && failed > 0 {
			return died(e.ID)
		}
		frac := r.FailFraction
		if frac == 0 {
			frac = 0.5
		}
		// A request whose connection failed (refused, reset, cut off
		// mid-stream) means the server is gone: the experiment is
		// incomplete and reruns on --resume.
		// Errors the server itself returned are measurements; too many of
		// them stop the run too.
		if unreachable > 0 || (n > 0 && float64(failed) > frac*float64(n)) {
			st.Note = fmt.Sprintf("stopped at %s: %d of %d requests failed (last: %s)", e.ID, failed, n, last)
			_ = st.write(r.Dir)
			return fmt.Errorf("experiment %s: %d of %d requests failed (last: %s); records kept in %s, resume with --resume", e.ID, failed, n, last, r.Dir)
		}
		st.Done = append(st.Done, e.ID)
		if err := st.write(r.Dir); err != nil {
			return err
		}
		// A server that died after its last request of this experiment:
		// the experiment is complete, the next one cannot run.
		if err := died("the run, after " + e.ID); err != nil {
			return err
		}
	}
	return nil
}

// WarmupID names the warm-up requests in requests.jsonl.
const WarmupID = "warmup"

func (r *Runner) modelNames() []string {
	var names []string
	for _, m := range r.Plan.Models {
		names = append(names, m.Name)
	}
	return names
}

func (r *Runner) expectedRequests(e Experiment) int {
	if e.Kind == Sustained {
		return 0
	}
	return e.Requests * len(e.Models)
}

func (r *Runner) startTelemetry(ctx context.Context, wg *sync.WaitGroup) error {
	src := r.Telemetry
	if src == nil {
		var note string
		src, note = telemetry.Open()
		r.logf("%s", note)
	}
	f, err := os.OpenFile(filepath.Join(r.Dir, TelemetryFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer f.Close()
		defer src.Close()
		enc := json.NewEncoder(f)
		every := r.sampleEvery()
		telemetry.Run(ctx, src, every, func(s telemetry.Sample) { _ = enc.Encode(s) },
			func(err error) { r.logf("telemetry: %v", err) })
	}()
	return nil
}

// startScrapes scrapes every plan model's metrics_url at the telemetry
// rate into server_metrics.jsonl.
func (r *Runner) startScrapes(ctx context.Context, wg *sync.WaitGroup) error {
	var models []PlanModel
	for _, m := range r.Plan.Models {
		if m.MetricsURL != "" {
			models = append(models, m)
		}
	}
	if len(models) == 0 {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(r.Dir, ServerMetricsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	enc := json.NewEncoder(f)
	var done sync.WaitGroup
	for _, m := range models {
		done.Add(1)
		go func() {
			defer done.Done()
			every := r.sampleEvery()
			telemetry.Poll(ctx, every, func(now time.Time) error {
				vals, err := telemetry.Scrape(ctx, m.MetricsURL, telemetry.VLLMMetrics)
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				return enc.Encode(telemetry.ServerMetrics{T: now, Model: m.Name, Values: vals})
			}, func(err error) { r.logf("calibrate: %s metrics: %v", m.Name, err) })
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		done.Wait()
		f.Close()
	}()
	return nil
}

func (r *Runner) logf(format string, args ...any) {
	if r.Progress != nil {
		fmt.Fprintf(r.Progress, format+"\n", args...)
	}
}

// experiment runs one experiment and appends its records. It returns the
// failed, unreachable (no HTTP response) and total request counts and the
// last error message.
func (r *Runner) experiment(ctx context.Context, e Experiment, attempt int, out io.Writer, shapers map[string]*promptShaper, prog *progress) (failed, unreachable, n int, last string, err error) {
	var mu sync.Mutex
	var writeErr error
	record := func(rec RequestRecord) {
		line, _ := json.Marshal(rec)
		mu.Lock()
		defer mu.Unlock()
		// One write per line: O_APPEND keeps lines whole, and a crash
		// loses at most the request in flight.
		if _, err := out.Write(append(line, '\n')); err != nil && writeErr == nil {
			writeErr = err
		}
		n++
		if rec.Error != "" {
			failed++
			last = rec.Error
			if rec.Transport {
				unreachable++
			}
		}
		prog.add(1)
	}
	seed := r.Plan.Seed ^ hash(e.ID) ^ uint64(attempt)
	var wg sync.WaitGroup
	ectx := ctx
	if e.Kind == Sustained {
		var cancel context.CancelFunc
		ectx, cancel = context.WithTimeout(ctx, time.Duration(e.DurationS*float64(time.Second)))
		defer cancel()
	}
	for mi, name := range e.Models {
		m, _ := r.Plan.Model(name)
		client := &openai.Client{BaseURL: m.URL, Endpoint: openai.Endpoint(r.Plan.API),
			Timeout: seconds(r.Plan.TimeoutS), Stall: seconds(r.Plan.StallS)}
		sh := shapers[name]
		if sh == nil {
			sh = &promptShaper{perChar: 1}
			shapers[name] = sh
		}
		rng := rand.New(rand.NewPCG(seed, uint64(mi)))
		var next int
		var nextMu sync.Mutex
		take := func() (int, bool) {
			nextMu.Lock()
			defer nextMu.Unlock()
			if ectx.Err() != nil || (e.Kind != Sustained && next >= e.Requests) {
				return 0, false
			}
			next++
			return next - 1, true
		}
		send := func(seq int, prompt string) {
			rec, _ := client.Stream(ectx, openai.Request{Model: name, Prompt: prompt, MaxTokens: e.Output, Temperature: 1, Seed: int64(seq)})
			if e.Kind == Sustained && ectx.Err() != nil && ctx.Err() == nil {
				return // the phase's clock ran out mid-request: not a failure, not a sample
			}
			if rec.PromptTokens > 0 {
				sh.observe(len(prompt), rec.PromptTokens)
			}
			record(RequestRecord{Experiment: e.ID, Attempt: attempt, Model: name, Seq: seq, TargetInput: e.Input, MaxTokens: e.Output, Record: rec})
		}
		if e.Kind == Rate {
			// Poisson arrivals: each request on its own goroutine.
			wg.Add(1)
			go func() {
				defer wg.Done()
				var inflight sync.WaitGroup
				defer inflight.Wait()
				for seq := range e.Requests {
					gap := time.Duration(rng.ExpFloat64() / e.Rate * float64(time.Second))
					select {
					case <-ectx.Done():
						return
					case <-time.After(gap):
					}
					prompt := sh.prompt(rng, e.Input)
					inflight.Add(1)
					go func() { defer inflight.Done(); send(seq, prompt) }()
				}
			}()
			continue
		}
		for u := range e.Concurrency {
			urng := rand.New(rand.NewPCG(seed, uint64(mi)<<32|uint64(u)+1))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					seq, ok := take()
					if !ok {
						return
					}
					send(seq, sh.prompt(urng, e.Input))
				}
			}()
		}
	}
	wg.Wait()
	return failed, unreachable, n, last, writeErr
}

// sampleEvery is the telemetry interval. ParsePlan bounds telemetry_hz;
// a plan built in code out of those bounds samples at the default 10 Hz.
func (r *Runner) sampleEvery() time.Duration {
	hz := r.Plan.TelemetryHz
	if !(hz >= MinTelemetryHz && hz <= MaxTelemetryHz) {
		hz = 10
	}
	return time.Duration(float64(time.Second) / hz)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := range len(s) {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}
