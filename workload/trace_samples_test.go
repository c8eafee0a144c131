package workload

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateTraces = flag.Bool("update", false, "rewrite the sample traces in testdata/traces/ (and scenarios/traces/)")

// The sample traces are written by sampleTraces, not copied from the
// published datasets: the same columns and spellings, made-up traffic.
// scenarios/traces/mooncake.jsonl is the Mooncake sample again, for
// scenarios/trace-mooncake.toml, which reads files from its own folder.
var samplePaths = map[string]string{
	"testdata/traces/azure.csv":          "azure",
	"testdata/traces/burstgpt.csv":       "burstgpt",
	"testdata/traces/mooncake.jsonl":     "mooncake",
	"testdata/traces/sharegpt.json":      "sharegpt",
	"../scenarios/traces/mooncake.jsonl": "mooncake",
}

// sampleTraces writes small traces in each format from a fixed seed: ten
// minutes of chat-like traffic whose rate doubles in the middle third.
func sampleTraces() map[string][]byte {
	r := rand.New(rand.NewPCG(16, 3))
	lognormal := func(mean, sd float64) int {
		s2 := math.Log1p(sd * sd / (mean * mean))
		return max(1, int(math.Exp(math.Log(mean)-s2/2+math.Sqrt(s2)*r.NormFloat64())))
	}
	// arrivals: 10 minutes, 0.5 requests/s, 1/s from minute 3 to 7.
	var at []float64
	for t := 0.0; ; {
		rate := 0.5
		if t >= 180 && t < 420 {
			rate = 1
		}
		t += r.ExpFloat64() / rate
		if t >= 600 {
			break
		}
		at = append(at, t)
	}
	out := map[string][]byte{}

	var b bytes.Buffer
	b.WriteString("TIMESTAMP,ContextTokens,GeneratedTokens\n")
	t0 := time.Date(2023, 11, 16, 18, 15, 46, 680590000, time.UTC)
	for _, s := range at {
		ts := t0.Add(time.Duration(s * 1e9)).Truncate(100 * time.Nanosecond)
		fmt.Fprintf(&b, "%s.%07d,%d,%d\n", ts.Format("2006-01-02 15:04:05"), ts.Nanosecond()/100, lognormal(1500, 1200), lognormal(250, 200))
	}
	out["azure"] = bytes.Clone(b.Bytes())

	b.Reset()
	b.WriteString("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n")
	for _, s := range at {
		model, log := "ChatGPT", "Conversation log"
		if r.IntN(4) == 0 {
			model = "GPT-4"
		}
		if r.IntN(3) == 0 {
			log = "API log"
		}
		in, resp := lognormal(600, 500), lognormal(300, 250)
		if r.IntN(25) == 0 {
			resp = 0 // a failed request, as BurstGPT records them
		}
		fmt.Fprintf(&b, "%d,%s,%d,%d,%d,%s\n", int(s), model, in, resp, in+resp, log)
	}
	out["burstgpt"] = bytes.Clone(b.Bytes())

	// Mooncake: each request opens with one of 4 system prompts (2 blocks
	// each), and a third continue an earlier conversation, carrying its
	// blocks.
	b.Reset()
	next := uint64(8)
	var convs [][]uint64
	for _, s := range at {
		var ids []uint64
		if len(convs) > 0 && r.IntN(3) == 0 {
			ids = append(ids, convs[r.IntN(len(convs))]...)
		} else {
			p := uint64(r.IntN(4))
			ids = []uint64{2 * p, 2*p + 1}
		}
		for range 1 + r.IntN(4) {
			ids = append(ids, next)
			next++
		}
		convs = append(convs, ids)
		in := (len(ids)-1)*MooncakeBlockTokens + 1 + r.IntN(MooncakeBlockTokens)
		row, _ := json.Marshal(struct {
			Timestamp    int      `json:"timestamp"`
			InputLength  int      `json:"input_length"`
			OutputLength int      `json:"output_length"`
			HashIDs      []uint64 `json:"hash_ids"`
		}{int(s * 1000), in, lognormal(200, 150), ids})
		b.Write(row)
		b.WriteByte('\n')
	}
	out["mooncake"] = bytes.Clone(b.Bytes())

	words := strings.Fields("the a fleet model token prompt cache answer question server latency batch queue " +
		"device memory power request stream decode prefill throughput")
	text := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = words[r.IntN(len(words))]
		}
		return strings.Join(w, " ")
	}
	type turn struct {
		From   string `json:"from"`
		Value  string `json:"value"`
		Tokens *int   `json:"tokens,omitempty"`
	}
	type conv struct {
		ID            string `json:"id"`
		Conversations []turn `json:"conversations"`
	}
	var cs []conv
	for i := range 40 {
		c := conv{ID: fmt.Sprintf("sample-%d", i)}
		if i%5 == 0 {
			c.Conversations = append(c.Conversations, turn{From: "system", Value: "You are a helpful assistant."})
		}
		for range 1 + r.IntN(3) {
			c.Conversations = append(c.Conversations, turn{From: "human", Value: text(5 + r.IntN(30))}, turn{From: "gpt", Value: text(10 + r.IntN(80))})
		}
		if i%4 == 0 { // lengths given in tokens too
			for j := range c.Conversations {
				n := len(c.Conversations[j].Value)/4 + 1
				c.Conversations[j].Tokens = &n
			}
		}
		cs = append(cs, c)
	}
	cs = append(cs, conv{ID: "no-reply", Conversations: []turn{{From: "human", Value: "hello?"}}})
	js, _ := json.MarshalIndent(cs, "", "  ")
	out["sharegpt"] = append(js, '\n')
	return out
}

// TestSampleTraces holds the shipped samples to their generator (rewrite
// with -update) and reads each in its format.
func TestSampleTraces(t *testing.T) {
	gen := sampleTraces()
	for path, format := range samplePaths {
		want := gen[format]
		if *updateTraces {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./workload -run TestSampleTraces -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its generator (rewrite with -update)", path)
		}
	}
}
