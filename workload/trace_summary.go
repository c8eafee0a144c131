package workload

import (
	"math"
	"slices"
)

// TraceSummary is what a replayed trace holds: how many requests over how
// long, how the rate moves, how long prompts and outputs are and how much
// of the prompts' hash-id blocks repeat an earlier request's.
type TraceSummary struct {
	Requests  int     `json:"requests"`
	DurationS float64 `json:"duration_s"` // first to last arrival
	// MeanRate is requests per second over DurationS (0 for one instant).
	MeanRate float64 `json:"mean_rate"`
	// Rates is the rate in equal bins of the trace's span (the last bin
	// holds the last arrival).
	Rates  []RateBin         `json:"rates"`
	Input  LengthPercentiles `json:"input_tokens"`
	Output LengthPercentiles `json:"output_tokens"`
	// HashBlocks counts the requests' hash-id blocks; ReusedBlocks those
	// whose id an earlier request (or an earlier block) already had.
	// PrefixReuse is their ratio, the share of prompt blocks a cache that
	// never evicts would serve; 0 without hash ids.
	HashBlocks   int     `json:"hash_blocks"`
	ReusedBlocks int     `json:"reused_blocks"`
	PrefixReuse  float64 `json:"prefix_reuse"`
}

// RateBin is the arrivals in [StartS, EndS) of a trace.
type RateBin struct {
	StartS   float64 `json:"start_s"`
	EndS     float64 `json:"end_s"`
	Requests int     `json:"requests"`
	Rate     float64 `json:"rate"` // requests/s
}

// LengthPercentiles are nearest-rank percentiles of token counts.
type LengthPercentiles struct {
	Mean float64 `json:"mean"`
	P50  int     `json:"p50"`
	P90  int     `json:"p90"`
	P99  int     `json:"p99"`
	Max  int     `json:"max"`
}

// SummarizeTrace summarizes records (in arrival order, as the readers
// return them) with the rate in bins equal parts of the span (at least 1).
func SummarizeTrace(recs []TraceRecord, bins int) TraceSummary {
	s := TraceSummary{Requests: len(recs)}
	if len(recs) == 0 {
		return s
	}
	first, last := recs[0].ArrivalS, recs[0].ArrivalS
	in := make([]int, len(recs))
	out := make([]int, len(recs))
	seen := map[uint64]bool{}
	for i, r := range recs {
		first, last = math.Min(first, r.ArrivalS), math.Max(last, r.ArrivalS)
		in[i], out[i] = r.InputTokens, r.OutputTokens
		for _, h := range r.HashIDs {
			s.HashBlocks++
			if seen[h] {
				s.ReusedBlocks++
			}
			seen[h] = true
		}
	}
	s.DurationS = last - first
	if s.DurationS > 0 {
		s.MeanRate = float64(len(recs)) / s.DurationS
	}
	if s.HashBlocks > 0 {
		s.PrefixReuse = float64(s.ReusedBlocks) / float64(s.HashBlocks)
	}
	s.Input, s.Output = percentiles(in), percentiles(out)
	bins = max(bins, 1)
	if s.DurationS == 0 {
		bins = 1
	}
	width := s.DurationS / float64(bins)
	s.Rates = make([]RateBin, bins)
	for i := range s.Rates {
		s.Rates[i] = RateBin{StartS: first + float64(i)*width, EndS: first + float64(i+1)*width}
	}
	for _, r := range recs {
		i := bins - 1
		if width > 0 {
			i = min(int((r.ArrivalS-first)/width), bins-1)
		}
		s.Rates[i].Requests++
	}
	for i := range s.Rates {
		if width > 0 {
			s.Rates[i].Rate = float64(s.Rates[i].Requests) / width
		}
	}
	return s
}

func percentiles(v []int) LengthPercentiles {
	slices.Sort(v)
	rank := func(p float64) int { return v[max(int(math.Ceil(p*float64(len(v))))-1, 0)] }
	sum := 0.0
	for _, x := range v {
		sum += float64(x)
	}
	return LengthPercentiles{Mean: sum / float64(len(v)), P50: rank(0.5), P90: rank(0.9), P99: rank(0.99), Max: v[len(v)-1]}
}
