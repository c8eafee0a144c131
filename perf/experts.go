package perf

import (
	"math"
	"sync"
)

// Which routed experts a step's tokens touch: what a MoE step reads and
// multiplies (step.go's expert terms).

// DistinctExperts is the expected number of different experts a batch of
// tokens touches in one layer when each token picks topK of n uniformly:
// n (1 - (1 - k/n)^tokens). With the profile's expert_overlap o, the tokens
// after the first count 1 - o each (tokens of one step share experts more
// than independent draws): n (1 - (1 - k/n)^(1 + (1-o)(tokens-1))), still k
// for one token and n for very many. Real routers are also skewed, which
// the fitted expert bandwidth efficiency absorbs.
func (s *StepModel) DistinctExperts(tokens int) float64 {
	if s.experts == 0 || tokens <= 0 {
		return 0
	}
	if s.tokenShare == 1 {
		if tokens < len(s.distinct) {
			return s.distinct[tokens]
		}
		return s.independent(tokens)
	}
	if tokens < len(s.distinct) {
		return s.distinct[tokens]
	}
	return s.distinctOverlap(tokens)
}

// independent is DistinctExperts without expert_overlap: n (1 - (1 -
// k/n)^tokens).
func (s *StepModel) independent(tokens int) float64 {
	return independentExperts(s.experts, s.topK, tokens)
}

func independentExperts(experts, topK float64, tokens int) float64 {
	return experts * (1 - math.Pow(1-topK/experts, float64(tokens)))
}

// independentTables holds DistinctExperts without expert_overlap for
// token counts below distinctTable, by (experts, topK): it depends on
// nothing else, so every instance of a model shares one (a pow per step
// was a few percent of a fleet's simulation).
var independentTables sync.Map // [2]float64 -> []float64

func independentTable(experts, topK float64) []float64 {
	key := [2]float64{experts, topK}
	if t, ok := independentTables.Load(key); ok {
		return t.([]float64)
	}
	t := make([]float64, distinctTable)
	for n := 1; n < distinctTable; n++ {
		t[n] = independentExperts(experts, topK, n)
	}
	v, _ := independentTables.LoadOrStore(key, t)
	return v.([]float64)
}

// distinctOverlap is DistinctExperts under expert_overlap: n (1 - (1 -
// k/n)^(T^(1-o))), by exp and log.
func (s *StepModel) distinctOverlap(tokens int) float64 {
	t := math.Exp(s.tokenShare * math.Log(float64(tokens)))
	return s.experts * -math.Expm1(t*s.logMiss)
}

// distinctTable is how many token counts setFactors tabulates
// DistinctExperts for under expert_overlap (its exp and log cost more than
// the rest of a step; a decode batch or a short prefill looks it up).
const distinctTable = 2048
