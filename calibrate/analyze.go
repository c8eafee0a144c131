package calibrate

import (
	"math"
	"slices"
	"time"
)

// Percentiles of a latency, in seconds.
type Percentiles struct {
	P50, P90, P99, Mean float64
}

func percentiles(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	q := func(p float64) float64 { // linear interpolation between ranks
		pos := p * float64(len(s)-1)
		i := int(pos)
		if i+1 >= len(s) {
			return s[len(s)-1]
		}
		return s[i] + (pos-float64(i))*(s[i+1]-s[i])
	}
	var sum float64
	for _, x := range s {
		sum += x
	}
	return Percentiles{q(0.5), q(0.9), q(0.99), sum / float64(len(s))}
}

// Measured summarises one model's requests in one experiment.
type Measured struct {
	Model        string
	Requests     int // completed with usage
	Failed       int
	PromptTokens float64 // mean of the server's counts
	OutputTokens float64
	TTFT         Percentiles
	TPOT         Percentiles
	E2E          Percentiles
	ITL          Percentiles
	// Decode is the mean of E2E − TTFT: the time spent generating after
	// the first token.
	Decode float64
	// OutputTokPerS is output tokens over the span from the first send to
	// the last end (the experiment's throughput for this model).
	OutputTokPerS float64
	SpanS         float64
	Start, End    time.Time
	Arrivals      []float64 // send times after Start, in order (for replay)
	Prompts       []int
	Outputs       []int
}

// Summarize groups an experiment's records by model.
func Summarize(recs []RequestRecord) map[string]*Measured {
	out := map[string]*Measured{}
	var ttft, tpot, e2e, itl, dec = map[string][]float64{}, map[string][]float64{}, map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	slices.SortFunc(recs, func(a, b RequestRecord) int { return a.Sent.Compare(b.Sent) })
	for _, r := range recs {
		m := out[r.Model]
		if m == nil {
			m = &Measured{Model: r.Model, Start: r.Sent}
			out[r.Model] = m
		}
		if !r.OK() {
			m.Failed++
			continue
		}
		t := r.Timing()
		m.Requests++
		m.PromptTokens += float64(r.PromptTokens)
		m.OutputTokens += float64(r.OutputTokens)
		ttft[r.Model] = append(ttft[r.Model], t.TTFT)
		e2e[r.Model] = append(e2e[r.Model], t.E2E)
		dec[r.Model] = append(dec[r.Model], t.E2E-t.TTFT)
		if r.OutputTokens > 1 {
			tpot[r.Model] = append(tpot[r.Model], t.TPOT)
		}
		itl[r.Model] = append(itl[r.Model], t.ITL...)
		if end := r.Sent.Add(time.Duration(r.EndNS)); end.After(m.End) {
			m.End = end
		}
		m.Arrivals = append(m.Arrivals, r.Sent.Sub(m.Start).Seconds())
		m.Prompts = append(m.Prompts, r.PromptTokens)
		m.Outputs = append(m.Outputs, r.OutputTokens)
	}
	for name, m := range out {
		if m.Requests == 0 {
			continue
		}
		n := float64(m.Requests)
		m.SpanS = m.End.Sub(m.Start).Seconds()
		m.OutputTokPerS = m.OutputTokens / m.SpanS
		m.PromptTokens /= n
		m.OutputTokens /= n
		m.TTFT, m.TPOT, m.E2E, m.ITL = percentiles(ttft[name]), percentiles(tpot[name]), percentiles(e2e[name]), percentiles(itl[name])
		m.Decode = percentiles(dec[name]).Mean
	}
	return out
}
