package sim

import (
	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sketch"
)

// SketchAlpha is the relative accuracy of every reported percentile: each
// is within 0.5% of a latency whose rank is the requested rank.
const SketchAlpha = 0.005

// RequestRecord is one finished request (after warm-up). Latencies are
// seconds; NaN where they do not apply (a rejected request has no TTFT).
type RequestRecord struct {
	Model       string
	Class       string
	Instance    int
	ArrivalS    float64
	QueueS      float64 // arrival to first admission
	TTFTS       float64
	TPOTS       float64 // (E2E - TTFT) / (output - 1); NaN for one output token
	E2ES        float64
	Input       int
	Output      int
	Preemptions int
	Rejected    bool
	SLOMet      bool
}

// latencies holds the sketches of one population of requests.
type latencies struct {
	queue, ttft, tpot, e2e *sketch.Sketch
	completed, sloMet      int64
}

func newLatencies() latencies {
	return latencies{queue: sketch.New(SketchAlpha), ttft: sketch.New(SketchAlpha),
		tpot: sketch.New(SketchAlpha), e2e: sketch.New(SketchAlpha)}
}

func (l *latencies) add(rec RequestRecord) {
	l.completed++
	if rec.SLOMet {
		l.sloMet++
	}
	l.queue.Add(rec.QueueS)
	l.ttft.Add(rec.TTFTS)
	if rec.Output > 1 {
		l.tpot.Add(rec.TPOTS)
	}
	l.e2e.Add(rec.E2ES)
}

// modelStats accumulates a served model's results.
type modelStats struct {
	spec         scenario.Model
	arrived      int64
	served       int64 // completed after warm-up, counted or not (ModelResult.Served)
	rejected     int64
	preemptions  int64
	inputTokens  int64
	outputTokens int64
	all          latencies
	classes      []latencies
	itl          *sketch.Sketch // inter-token gaps, weighted by tokens
}

func newModelStats(m scenario.Model) *modelStats {
	st := &modelStats{spec: m, all: newLatencies(), itl: sketch.New(SketchAlpha)}
	for range m.Classes {
		st.classes = append(st.classes, newLatencies())
	}
	return st
}

// record turns a finished request into a record and adds it to the stats.
func (st *modelStats) record(r *request, now engine.Time, rejected bool, inst int) RequestRecord {
	rec := RequestRecord{
		Model: st.spec.Name, Class: st.spec.Classes[r.class].Name, Instance: inst,
		ArrivalS: r.arrival.Seconds(), Input: int(r.input), Output: int(r.output),
		Preemptions: int(r.preemptions), Rejected: rejected,
		QueueS: nan, TTFTS: nan, TPOTS: nan, E2ES: nan,
	}
	if rejected {
		st.rejected++
		return rec
	}
	rec.QueueS = (r.admitted - r.arrival).Seconds()
	rec.TTFTS = (r.first - r.arrival).Seconds()
	rec.E2ES = (now - r.arrival).Seconds()
	if r.output > 1 {
		rec.TPOTS = (rec.E2ES - rec.TTFTS) / float64(r.output-1)
	}
	t := st.spec.Targets[r.class]
	rec.SLOMet = within(rec.TTFTS, t.TTFTS) && within(rec.TPOTS, t.TPOTS) && within(rec.E2ES, t.E2ES)
	st.inputTokens += int64(r.input)
	st.outputTokens += int64(r.output)
	st.all.add(rec)
	st.classes[r.class].add(rec)
	return rec
}

// within reports whether v meets a limit; 0 is no limit, NaN always meets.
func within(v, limit float64) bool { return limit == 0 || !(v > limit) }
