package validate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing/fstest"

	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/workload"
)

// servingMetrics are a serving run's figures, in the units of measure's
// metrics (ms, tok/s, req/s).
type servingMetrics struct {
	ttftMean, ttftP99, tpotMean, itlMean, e2eMean, outputTPS, requestRPS float64
}

func (m servingMetrics) value(metric measure.Metric) float64 {
	switch metric {
	case measure.TTFTMean:
		return m.ttftMean
	case measure.TTFTP99:
		return m.ttftP99
	case measure.TPOTMean:
		return m.tpotMean
	case measure.ITLMean:
		return m.itlMean
	case measure.E2EMean:
		return m.e2eMean
	case measure.OutputTPSAggregate:
		return m.outputTPS
	case measure.RequestRPS:
		return m.requestRPS
	}
	return math.NaN()
}

// records are the simulated requests of one run, kept between runs of a
// worker to spare allocations.
type records struct {
	reqs     []sim.RequestRecord
	ttft     []float64
	rejected int
}

const (
	servedName = "m"
	traceFile  = "requests.csv"
	// retries is how many times a run whose requests did not all complete
	// is rerun, each with a four times longer span.
	retries = 2
)

// plan is what a serving experiment's runs share whatever the profile: its
// generated scenario file and trace, or why it cannot be run. It is not
// changed once built.
type plan struct {
	file  *scenario.File
	files fstest.MapFS
	err   error
	spec  *specPlan // speculative decoding (speculative.go); nil for none
}

// servingPlan builds the plan of a serving row's experiment; accepted is
// the tokens per round its rows publish (acceptedLength), which a
// speculative experiment takes as its acceptance.
func servingPlan(r *measure.Row, accepted float64) plan {
	k, err := rowKnobs(r)
	if err != nil {
		return plan{err: err}
	}
	var sp *scenario.Speculative
	var spl *specPlan
	if k.spec != nil {
		if sp, spl, err = k.spec.speculative(accepted); err != nil {
			return plan{err: err}
		}
	}
	f, files, err := servingFile(r, k, sp)
	return plan{file: f, files: files, err: err, spec: spl}
}

// serve reproduces a serving row: one node, one instance, the row's traffic,
// run until every request has completed.
func serve(ctx context.Context, env Env, r *measure.Row, pl *plan, buf *records) (servingMetrics, Basis, error) {
	if pl.err != nil {
		return servingMetrics{}, Basis{}, pl.err
	}
	span, err := estimateSpan(env, r)
	if err != nil {
		return servingMetrics{}, Basis{}, err
	}
	f := *pl.file // the span is this run's; the plan is shared
	if err := onNodeType(env.Catalog, r, &f); err != nil {
		return servingMetrics{}, Basis{}, err
	}
	for try := 0; ; try++ {
		f.DurationS = min(span, scenario.MaxDurationS)
		sc, err := scenario.Resolve(r.ID, &f, env.Catalog, env.Profiles, pl.files)
		if err != nil {
			return servingMetrics{}, Basis{}, fmt.Errorf("the generated scenario: %w", err)
		}
		pl.spec.setVerify(sc)
		if err := run(ctx, sc, r.Requests, buf); err != nil {
			return servingMetrics{}, Basis{}, err
		}
		if buf.rejected > 0 {
			return servingMetrics{}, Basis{}, fmt.Errorf("the twin rejected %d of %d requests: they never fit its KV cache", buf.rejected, r.Requests)
		}
		if len(buf.reqs) == r.Requests {
			chunk := 1.0 // tokens per streamed chunk
			if pl.spec != nil {
				chunk = pl.spec.tokens
			}
			basis, err := servingBasis(sc) // provenance.go
			return buf.metrics(chunk), basis, err
		}
		if try == retries || f.DurationS == scenario.MaxDurationS {
			return servingMetrics{}, Basis{}, fmt.Errorf("only %d of %d requests completed in %.0f simulated seconds", len(buf.reqs), r.Requests, f.DurationS)
		}
		span *= 4
	}
}

// run simulates sc until n requests have finished (or its span ends),
// keeping them in buf.
func run(ctx context.Context, sc *scenario.Scenario, n int, buf *records) error {
	buf.reqs, buf.rejected = buf.reqs[:0], 0
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opt := sim.Options{OnRequest: func(rec sim.RequestRecord) {
		if len(buf.reqs)+buf.rejected >= n {
			return // a closed loop sends on; the row's run has ended
		}
		if rec.Rejected {
			buf.rejected++
		} else {
			buf.reqs = append(buf.reqs, rec)
		}
		if len(buf.reqs)+buf.rejected == n {
			cancel()
		}
	}}
	_, err := sim.Run(rctx, sc, opt)
	if err != nil && !(errors.Is(err, context.Canceled) && ctx.Err() == nil) {
		return err
	}
	return ctx.Err()
}

// servingFile is the scenario of a serving row: one node of the row's
// hardware and engine with one instance of its model, its settings mapped
// onto the instance, and its traffic. A closed loop is the scenario's closed
// process; a burst or a Poisson stream is a trace of exactly the row's
// requests, lengths drawn from the row's seed.
func servingFile(r *measure.Row, k knobs, speculative *scenario.Speculative) (*scenario.File, fstest.MapFS, error) {
	lengths := func(n int) workload.Lengths {
		if r.LengthCV == 0 {
			return workload.Lengths{Dist: workload.Fixed, Value: n}
		}
		return workload.Lengths{Dist: workload.Lognormal, Mean: float64(n), Stddev: r.LengthCV * float64(n)}
	}
	spec := workload.Spec{Input: lengths(r.InputTokens), Output: lengths(r.OutputTokens)}
	s := seed(r.Experiment())
	var files fstest.MapFS
	switch r.Kind {
	case measure.ClosedLoop:
		spec.Arrival = workload.Arrival{Process: workload.Closed, Concurrency: r.Concurrency}
	default:
		trace, err := traceCSV(r, spec, s)
		if err != nil {
			return nil, nil, err
		}
		files = fstest.MapFS{traceFile: {Data: trace}}
		spec.Arrival = workload.Arrival{Process: workload.Trace, Trace: traceFile}
	}
	inst := scenario.Instance{Model: servedName, Quant: r.Quant, KVCache: r.KVCache, MaxSeqs: k.maxSeqs,
		MaxBatchedTokens: k.maxBatchedTokens, ChunkedPrefill: k.chunkedPrefill, Speculative: speculative}
	if inst.MaxBatchedTokens == 0 && k.ubatch > 0 {
		inst.MaxBatchedTokens = k.ubatch
	}
	k.layout.setLayout(&inst) // parallel.go
	f := &scenario.File{
		Name:   r.ID,
		Seed:   s,
		Models: map[string]scenario.ServedModel{servedName: {Model: r.Model, Workload: spec}},
		Nodes: []scenario.NodeGroup{{Name: "node", Hardware: r.Hardware, Engine: r.Engine, Count: 1,
			MemoryFraction: k.memFraction, Instances: []scenario.Instance{inst}}},
	}
	return f, files, nil
}

// traceCSV writes the row's requests as a trace: all at 0 for a burst,
// exponential gaps at the row's rate for Poisson.
func traceCSV(r *measure.Row, spec workload.Spec, s uint64) ([]byte, error) {
	in, err := workload.NewLengthSampler(spec.Input, nil)
	if err != nil {
		return nil, err
	}
	out, err := workload.NewLengthSampler(spec.Output, nil)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(s, 0x76616c6964617465))
	var b bytes.Buffer
	b.Grow(24 * (r.Requests + 1))
	b.WriteString("arrival_s,input_tokens,output_tokens\n")
	t := 0.0
	for i := range r.Requests {
		if r.Kind == measure.Poisson && i > 0 {
			t += rng.ExpFloat64() / r.RateRPS
		}
		b.Write(strconv.AppendFloat(b.AvailableBuffer(), t, 'g', -1, 64))
		b.WriteByte(',')
		b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(in.Sample(rng)), 10))
		b.WriteByte(',')
		b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(out.Sample(rng)), 10))
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// estimateSpan is a simulated span long enough for every request of the
// row to complete: the requests served one after another, each as long as
// a lone request takes in the step model, twice over, plus the last
// arrival and a minute. Batching only shortens it; a run that still falls
// short is rerun longer.
func estimateSpan(env Env, r *measure.Row) (float64, error) {
	hw, p, err := deviceProfile(env, r)
	if err != nil {
		return 0, err
	}
	model, err := env.Catalog.Model(r.Model)
	if err != nil {
		return 0, err
	}
	format, experts, err := env.Catalog.WeightFormats(model, r.Quant, p.Engine)
	if err != nil {
		return 0, err
	}
	kvName := r.KVCache
	if kvName == "" {
		kvName = defaultKV
	}
	kv, err := env.Catalog.KVType(kvName)
	if err != nil {
		return 0, err
	}
	sm, err := perf.NewStepModel(hw, perf.Instance{Model: model, Weights: format, Experts: experts, KV: kv}, p)
	if err != nil {
		return 0, err
	}
	// Lognormal lengths: the mean plus three standard deviations bounds
	// nearly every request; the factor below covers the rest.
	grow := 1 + 3*r.LengthCV
	in := min(int(float64(r.InputTokens)*grow), workload.MaxTokens)
	out := min(int(float64(r.OutputTokens)*grow), workload.MaxTokens)
	pred, err := sm.Predict(perf.Workload{Batch: 1, Input: in, Output: out})
	if err != nil {
		return 0, err
	}
	last := 0.0
	if r.Kind == measure.Poisson {
		last = float64(r.Requests) / r.RateRPS * 2
	}
	return last + 2*float64(r.Requests)*(pred.E2E+0.1) + 60, nil
}

// metrics computes the serving metrics from the run's requests as
// `vllm bench serve` does: TTFT mean and p99 over requests; TPOT per
// request (e2e − ttft) / (output − 1) and its mean over requests with more
// than one output token; ITL the mean of every gap between streamed
// chunks of chunk tokens each (1, or a speculative round's tokens), Σ(e2e −
// ttft) / Σ((output − 1) / chunk); throughput over the time from the first
// request sent to the last completed.
func (b *records) metrics(chunk float64) servingMetrics {
	var m servingMetrics
	n := float64(len(b.reqs))
	b.ttft = b.ttft[:0]
	first, last := math.Inf(1), math.Inf(-1)
	var tpotSum, gapSum, tokens, e2eSum, ttftSum float64
	var tpotN, gaps int
	for _, q := range b.reqs {
		b.ttft = append(b.ttft, q.TTFTS)
		ttftSum += q.TTFTS
		e2eSum += q.E2ES
		tokens += float64(q.Output)
		if q.Output > 1 {
			tpotSum += (q.E2ES - q.TTFTS) / float64(q.Output-1)
			tpotN++
			gapSum += q.E2ES - q.TTFTS
			gaps += q.Output - 1
		}
		first = math.Min(first, q.ArrivalS)
		last = math.Max(last, q.ArrivalS+q.E2ES)
	}
	m.ttftMean = 1e3 * ttftSum / n
	m.ttftP99 = 1e3 * percentile(b.ttft, 99)
	m.e2eMean = 1e3 * e2eSum / n
	m.tpotMean, m.itlMean = math.NaN(), math.NaN()
	if tpotN > 0 {
		m.tpotMean = 1e3 * tpotSum / float64(tpotN)
		m.itlMean = 1e3 * gapSum / float64(gaps)
		if chunk != 1 {
			m.itlMean *= chunk
		}
	}
	if span := last - first; span > 0 {
		m.outputTPS = tokens / span
		m.requestRPS = n / span
	}
	return m
}

// percentile is numpy's default percentile (linear interpolation between
// the closest ranks); it sorts v.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	pos := p / 100 * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(v)-1)
	return v[lo] + (pos-float64(lo))*(v[hi]-v[lo])
}
