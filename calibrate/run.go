package calibrate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fleettwin/fleettwin/calibrate/openai"
	"github.com/fleettwin/fleettwin/calibrate/telemetry"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
)

// Files of a run directory.
const (
	PlanFile      = "plan.toml"
	StateFile     = "run.json"       // progress, rewritten atomically
	RequestsFile  = "requests.jsonl" // one RequestRecord per line, appended
	TelemetryFile = "telemetry.jsonl"
	ServersFile   = "servers.json" // what the servers report of their settings
	// ServerMetricsFile holds the engines' own gauges (running, waiting,
	// KV-cache use) scraped from their Prometheus endpoints, where a
	// plan model names one.
	ServerMetricsFile = "server_metrics.jsonl"
)

// RequestRecord is one request as the run directory stores it.
type RequestRecord struct {
	Experiment string `json:"experiment"`
	Attempt    int    `json:"attempt"`
	Model      string `json:"model"`
	Seq        int    `json:"seq"`
	// TargetInput is the prompt length asked for; the server's count is
	// PromptTokens.
	TargetInput int `json:"target_input"`
	MaxTokens   int `json:"max_tokens"`
	openai.Record
}

// State is run.json: where a run stands.
type State struct {
	ID       string            `json:"id"`
	Plan     string            `json:"plan"`
	Hardware string            `json:"hardware"`
	Engine   string            `json:"engine"`
	Created  time.Time         `json:"created"`
	Updated  time.Time         `json:"updated"`
	Versions map[string]string `json:"versions,omitempty"`
	// Done lists completed experiments; Attempts counts starts of each.
	Done     []string       `json:"done"`
	Attempts map[string]int `json:"attempts"`
	Finished bool           `json:"finished"`
	Note     string         `json:"note,omitempty"`
}

// ReadState reads run.json.
func ReadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", dir, err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("run %s: %s: %w", dir, StateFile, err)
	}
	return &s, nil
}

func (s *State) write(dir string) error {
	s.Updated = time.Now().UTC()
	data, _ := json.MarshalIndent(s, "", "  ")
	return atomicfile.WriteFile(filepath.Join(dir, StateFile), append(data, '\n'), 0o644)
}

func (s *State) done(id string) bool {
	for _, d := range s.Done {
		if d == id {
			return true
		}
	}
	return false
}

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
}

// Start creates a run directory under root named after the plan and the
// time, writes the plan into it, and returns its path.
func Start(root string, p *Plan, planData []byte, versions map[string]string) (string, error) {
	id := fmt.Sprintf("%s-%s", time.Now().UTC().Format("20060102-150405"), p.Name)
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, PlanFile), planData, 0o644); err != nil {
		return "", err
	}
	st := &State{ID: id, Plan: p.Name, Hardware: p.Hardware, Engine: p.Engine, Created: time.Now().UTC(),
		Versions: versions, Attempts: map[string]int{}}
	return dir, st.write(dir)
}

// Run executes every experiment not yet done, in order. It returns when
// all are done, ctx is cancelled, or an experiment fails wholesale; every
// record gathered is on disk either way and Run can be called again on the
// same directory to resume.
func (r *Runner) Run(ctx context.Context) error {
	st, err := ReadState(r.Dir)
	if err != nil {
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
	if err := r.startScrapes(tctx, &twg); err != nil {
		return err
	}

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
	// A server's first request pays for loading and graph set-up; one
	// request per model, recorded as experiment "warmup" and never
	// analysed, keeps that out of the first experiment.
	warm := Experiment{ID: WarmupID, Kind: "warmup", Models: r.modelNames(), Concurrency: 1, Input: 16, Output: 4, Requests: 2}
	if _, _, _, last, err := r.experiment(ctx, warm, st.Attempts[WarmupID]+1, reqs, prompts, &progress{}); err != nil {
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
		prog.exp = fmt.Sprintf("%d/%d %s", i+1, len(exps), e.ID)
		failed, unreachable, n, last, err := r.experiment(ctx, e, st.Attempts[e.ID], reqs, prompts, prog)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during %s: %d requests recorded; resume with --resume %s", e.ID, n, r.Dir)
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
	}
	prog.finish()
	st.Finished = true
	return st.write(r.Dir)
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
	if e.Kind == "sustained" {
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
		every := time.Duration(float64(time.Second) / r.Plan.TelemetryHz)
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
			every := time.Duration(float64(time.Second) / r.Plan.TelemetryHz)
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
	if e.Kind == "sustained" {
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
			if ectx.Err() != nil || (e.Kind != "sustained" && next >= e.Requests) {
				return 0, false
			}
			next++
			return next - 1, true
		}
		send := func(seq int, prompt string) {
			rec, _ := client.Stream(ectx, openai.Request{Model: name, Prompt: prompt, MaxTokens: e.Output, Temperature: 1, Seed: int64(seq)})
			if e.Kind == "sustained" && ectx.Err() != nil && ctx.Err() == nil {
				return // the phase's clock ran out mid-request: not a failure, not a sample
			}
			if rec.PromptTokens > 0 {
				sh.observe(len(prompt), rec.PromptTokens)
			}
			record(RequestRecord{Experiment: e.ID, Attempt: attempt, Model: name, Seq: seq, TargetInput: e.Input, MaxTokens: e.Output, Record: rec})
		}
		if e.Kind == "rate" {
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

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := range len(s) {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// promptShaper makes prompts of a target token count. It learns the
// server's tokens per character and fixed overhead (chat template, BOS)
// from the usage of every reply, so prompts converge on their target
// whatever the tokenizer.
type promptShaper struct {
	mu       sync.Mutex
	perChar  float64
	overhead float64
	n        int
	// least-squares sums of (chars, tokens)
	sx, sy, sxx, sxy float64
}

func (p *promptShaper) observe(chars, tokens int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	x, y := float64(chars), float64(tokens)
	p.n++
	p.sx += x
	p.sy += y
	p.sxx += x * x
	p.sxy += x * y
	n := float64(p.n)
	if d := n*p.sxx - p.sx*p.sx; p.n >= 2 && d > 1e-9*n*p.sxx {
		p.perChar = (n*p.sxy - p.sx*p.sy) / d
		p.overhead = (p.sy - p.perChar*p.sx) / n
	} else {
		p.overhead = y - p.perChar*x
	}
	if !(p.perChar > 0.01) {
		p.perChar, p.overhead = 1, 0
	}
}

// words are drawn at random so that no two prompts share a prefix the
// server could serve from its prefix cache.
var words = strings.Fields("time year people way day man thing woman life child world school state family student group country problem hand part place case week company system program question work government number night point home water room mother area money story fact month lot right study book eye job word business issue side kind head house service friend father power hour game line end member law car city community name president team minute idea kid body information back parent face others level office door health person art war history party result change morning reason research girl guy moment air teacher force education")

func (p *promptShaper) prompt(rng *rand.Rand, tokens int) string {
	p.mu.Lock()
	chars := int((float64(tokens) - p.overhead) / p.perChar)
	p.mu.Unlock()
	chars = max(chars, 1)
	var b strings.Builder
	for b.Len() < chars {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()[:chars]
}

// progress prints done/total, rate and time left, at most twice a second.
type progress struct {
	mu          sync.Mutex
	w           io.Writer
	total, done int
	start, last time.Time
	exp         string
	counted     int
}

func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.counted += n
	if p.w == nil || time.Since(p.last) < 500*time.Millisecond {
		return
	}
	p.last = time.Now()
	el := time.Since(p.start).Seconds()
	rate := float64(p.counted) / el
	left := "?"
	if rate > 0 && p.total >= p.done {
		left = (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "calibrate: %d/%d requests, %.2f req/s, %s left [%s]\n", p.done, p.total, rate, left, p.exp)
}

func (p *progress) finish() {
	if p.w != nil {
		fmt.Fprintf(p.w, "calibrate: %d/%d requests in %v\n", p.done, p.total, time.Since(p.start).Round(time.Second))
	}
}

// ReadRequests reads requests.jsonl. A torn last line (the process died
// mid-write) is skipped and reported in the error-free count skipped; any
// other malformed line is an error naming its line.
func ReadRequests(dir string) (recs []RequestRecord, skipped int, err error) {
	path := filepath.Join(dir, RequestsFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	var pending error
	for sc.Scan() {
		line++
		if pending != nil {
			return nil, 0, pending
		}
		var r RequestRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			pending = fmt.Errorf("%s:%d: %w", path, line, err)
			continue
		}
		recs = append(recs, r)
	}
	if pending != nil {
		skipped = 1 // only the last line is torn: the write that was cut
	}
	return recs, skipped, errors.Join(sc.Err())
}

// Latest keeps, per experiment, the records of its latest attempt.
func Latest(recs []RequestRecord) map[string][]RequestRecord {
	last := map[string]int{}
	for _, r := range recs {
		last[r.Experiment] = max(last[r.Experiment], r.Attempt)
	}
	out := map[string][]RequestRecord{}
	for _, r := range recs {
		if r.Attempt == last[r.Experiment] {
			out[r.Experiment] = append(out[r.Experiment], r)
		}
	}
	return out
}
