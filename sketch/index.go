package sketch

import (
	"math"
	"sync"
)

// The bucket of a value is ceil(log(x)/log(γ)) (logIndex). A logarithm per
// Add was a tenth of a simulation's time, so Add finds the same bucket from
// a table instead: the float64's exponent and its top mantissa bits select
// a slice of a binade, the table holds logIndex at the slice's first value,
// and comparing x with the smallest value of each following bucket (found
// once, by evaluating logIndex itself) finishes the job. The result is
// logIndex's, bit for bit, wherever logIndex is monotone in x, which
// TestTableIndexMatchesLog checks ulp by ulp around every boundary; values
// outside the table's binades take logIndex itself.

// sliceBits is how many mantissa bits select a slice: 2^7 slices per
// binade, each narrower than a bucket for α ≥ 0.0035, so the walk from the
// slice's first bucket takes at most one step at SketchAlpha's 0.005.
const sliceBits = 7

// The table covers the binades [2^minExp, 2^maxExp): down to MinValue
// (about 2^-39.9), up to about 1.1e12, far above any latency in seconds.
const (
	minExp = -40
	maxExp = 40
)

// logIndex is the bucket of x > MinValue: the definition the table
// reproduces.
func logIndex(x, logGamma float64) int { return int(math.Ceil(math.Log(x) / logGamma)) }

// indexTable finds buckets for one γ. It is built once per α and shared,
// read only, by every sketch of that α.
type indexTable struct {
	logGamma float64
	first    []int32   // logIndex at each slice's first value, by slice key - keyLo
	lowest   []float64 // lowest[j-jLo]: the smallest float64 whose logIndex is j
	jLo      int       // the bucket of lowest[0]
}

// key is x's slice: for a positive float64 its bits shifted right keep the
// biased exponent and the top sliceBits of the mantissa, in x's order.
func key(x float64) int { return int(math.Float64bits(x) >> (52 - sliceBits)) }

var keyLo, keyHi = key(math.Ldexp(1, minExp)), key(math.Ldexp(1, maxExp))

// index is logIndex(x, t.logGamma) for x > MinValue.
func (t *indexTable) index(x float64) int {
	k := key(x) - keyLo
	if uint(k) >= uint(len(t.first)) {
		return logIndex(x, t.logGamma)
	}
	j := int(t.first[k])
	for x >= t.lowest[j+1-t.jLo] {
		j++
	}
	return j
}

var (
	tablesMu sync.Mutex
	tables   = map[float64]*indexTable{}
)

// tableFor returns the shared table for logGamma, building it on first
// use (about 6,000 boundaries, each found by a short bisection: about a
// millisecond for α = 0.005).
func tableFor(logGamma float64) *indexTable {
	tablesMu.Lock()
	defer tablesMu.Unlock()
	if t, ok := tables[logGamma]; ok {
		return t
	}
	t := buildTable(logGamma)
	tables[logGamma] = t
	return t
}

// maxTableBuckets bounds a table's memory (8 bytes a bucket) and build
// time; a finer α than about 0.0004 keeps the logarithm (an empty table).
const maxTableBuckets = 1 << 16

func buildTable(logGamma float64) *indexTable {
	t := &indexTable{logGamma: logGamma}
	jLo := logIndex(math.Ldexp(1, minExp), logGamma)
	// One bucket past the last slice's, so the walk in index always stops.
	jHi := logIndex(math.Nextafter(math.Ldexp(1, maxExp), 0), logGamma) + 1
	if jHi-jLo > maxTableBuckets {
		return t
	}
	t.first, t.jLo = make([]int32, keyHi-keyLo), jLo
	t.lowest = make([]float64, jHi-t.jLo+1)
	for j := t.jLo; j <= jHi; j++ {
		t.lowest[j-t.jLo] = lowestOf(j, logGamma)
	}
	for k := range t.first {
		t.first[k] = int32(logIndex(math.Float64frombits(uint64(k+keyLo)<<(52-sliceBits)), logGamma))
	}
	return t
}

// lowestOf is the smallest positive float64 whose logIndex is at least j:
// a bisection over float64 bits (ordered like the values) around γ^(j-1),
// widened until it brackets the change.
func lowestOf(j int, logGamma float64) float64 {
	c := math.Float64bits(math.Exp(float64(j-1) * logGamma))
	for w := uint64(64); ; w *= 2 {
		lo, hi := c-w, c+w // logIndex(lo) < j <= logIndex(hi) once bracketed
		if logIndex(math.Float64frombits(lo), logGamma) >= j || logIndex(math.Float64frombits(hi), logGamma) < j {
			continue
		}
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if logIndex(math.Float64frombits(mid), logGamma) >= j {
				hi = mid
			} else {
				lo = mid
			}
		}
		return math.Float64frombits(hi)
	}
}
