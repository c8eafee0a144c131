package sim

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/fleettwin/fleettwin/internal/jsonfmt"
)

// conversation is Qwen3-8B on an H100 with sessions of three turns: each
// turn adds 100 tokens to the conversation and answers 50.
func conversation(arrival, extra string) string {
	return fmt.Sprintf(`
name = "conversation"
seed = 3
duration_s = 600
warmup_s = 60
[models.qwen3-8b.workload.arrival]
%s
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 100
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 50
[models.qwen3-8b.workload.sessions]
think_s = 5
[models.qwen3-8b.workload.sessions.turns]
dist = "fixed"
value = 3
%s
[[nodes]]
name = "h100"
hardware = "h100-sxm"
engine = "vllm"
count = 1
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "bf16"
`, arrival, extra)
}

// TestSessionsCarryContext: turn k's prompt is turn k-1's prompt, its 50
// answer tokens and 100 new ones: 100, 250, 400. The cache (on by default
// for sessions) serves what the last turn left: its context is prompt +
// answer - 1 tokens (the last token is never fed back), of which the full
// 16-token blocks are cached: 149 → 144 tokens for turn 2, 299 → 288 for
// turn 3. So the hit rate is Σ hit(input) / Σ input over the records, with
// hit(100) = 0, hit(250) = 144, hit(400) = 288, exactly (nothing is
// evicted: the cache holds far more than the conversations in flight),
// up to the turns running at the end.
//
// Thinking every turn (reasoning and answer 500 tokens, the answer the 50
// it would have been) carries only the answer: turn 2 is again 100 + 50 +
// 100 tokens, but only the blocks within turn 1's prompt are cached for
// it (96 tokens), and turn 3 finds those and turn 2's prompt (240).
func TestSessionsCarryContext(t *testing.T) {
	const thinking = `
[models.qwen3-8b.workload.thinking]
share = 1
[models.qwen3-8b.workload.thinking.output]
dist = "fixed"
value = 500
`
	for _, tt := range []struct {
		arrival, extra string
		hit            map[int]float64
	}{
		{"process = \"poisson\"\nrate = 2", "", map[int]float64{100: 0, 250: 144, 400: 288}},
		{"process = \"closed\"\nconcurrency = 8\nthink_s = 1", "", map[int]float64{100: 0, 250: 144, 400: 288}},
		{"process = \"poisson\"\nrate = 0.5", thinking, map[int]float64{100: 0, 250: 96, 400: 240}},
	} {
		arrival, hit := tt.arrival, tt.hit
		count := map[int]int{}
		var hits, tokens float64
		res := run(t, parse(t, conversation(arrival, tt.extra)), Options{OnRequest: func(r RequestRecord) {
			if r.Rejected {
				t.Errorf("%s: a turn was rejected", arrival)
				return
			}
			h, ok := hit[r.Input]
			if !ok {
				t.Fatalf("%s: a turn's input is %d; want 100, 250 or 400", arrival, r.Input)
			}
			count[r.Input]++
			hits += h
			tokens += float64(r.Input)
		}})
		if count[100] == 0 || count[250] == 0 || count[400] == 0 {
			t.Fatalf("%s: turns by input %v; want all three", arrival, count)
		}
		// Turns still running at the end were counted on admission but
		// have no record: each moves the rate by at most its prompt.
		slack := float64(res.Models[0].InFlight)*400/tokens + 1e-9
		if got, want := hitRate(t, res.Models[0]), hits/tokens; math.Abs(got-want) > slack {
			t.Errorf("%s: hit rate %.6f; want %.6f within %.6f from the turns %v", arrival, got, want, slack, count)
		}
		t.Logf("%s: turns %v, hit rate %.4f", arrival, count, hits/tokens)
	}
}

// TestThinkingShare: half the requests think, answering 1,500 tokens; the
// rest answer 50.
func TestThinkingShare(t *testing.T) {
	const share = 0.5
	var think, n float64
	res := run(t, parse(t, conversation("process = \"poisson\"\nrate = 1", `
[models.qwen3-8b.workload.thinking]
share = 0.5
[models.qwen3-8b.workload.thinking.output]
dist = "fixed"
value = 1500
`)), Options{OnRequest: func(r RequestRecord) {
		if r.Rejected {
			return
		}
		n++
		switch r.Output {
		case 1500:
			think++
		case 50:
		default:
			t.Fatalf("output %d; want 50 or 1500", r.Output)
		}
	}})
	if sd := math.Sqrt(share * (1 - share) / n); math.Abs(think/n-share) > 4*sd {
		t.Errorf("%v of %v requests thought; want a share of %v within 4 sd (%.3f)", think, n, share, sd)
	}
	m := res.Models[0]
	if want := (think*1500 + (n-think)*50) / (res.DurationS - res.WarmupS); math.Abs(m.OutputTokensPerS-want) > 1e-6*want {
		t.Errorf("output %.2f tokens/s; the records give %.2f", m.OutputTokensPerS, want)
	}
}

// TestPrefixDeterministic: with sessions, thinking and the cache the same
// seed gives the same bytes whatever GOMAXPROCS, another seed other ones.
func TestPrefixDeterministic(t *testing.T) {
	src := conversation("process = \"poisson\"\nrate = 3", `
[models.qwen3-8b.workload.prefix]
groups = 3
tokens = 700
share = 0.6
[models.qwen3-8b.workload.thinking]
share = 0.3
[models.qwen3-8b.workload.thinking.output]
dist = "lognormal"
mean = 800
stddev = 400
`)
	enc := func(seed uint64, procs int) []byte {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		sc := parse(t, src)
		sc.Seed = seed
		b, err := jsonfmt.Marshal(run(t, sc, Options{}))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := enc(1, 1), enc(1, 4), enc(2, 1)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with seed 1 differ")
	}
	if bytes.Equal(a, c) {
		t.Fatal("seeds 1 and 2 give identical results")
	}
}
