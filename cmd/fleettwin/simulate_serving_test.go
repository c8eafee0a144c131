package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/twin"
)

// simulate's text summary, drawn from the shipped scenarios' golden
// results (no simulation): the node table names each node's devices and
// sharing, a disaggregated model gets its KV transfers, a cached one its
// prefix cache hit rate, and a plain one neither.
func TestSimulateServingText(t *testing.T) {
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	profs, err := perf.DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		want, not []string
	}{
		{"disagg-h100", []string{"DEVICES         SHARING", "8 (hgx-h100-8)  time-slice", "KV transfers, prefill to decode", "qwen3-8b  8578       1.21 GB    2.7 ms        5.7 ms"}, []string{"Prefix cache"}},
		{"seed-colocated-thinking", []string{"Prefix cache hit rate (share of prompt tokens served from the cache): qwen3-14b 55.8%, qwen3-8b 39.9%", "dgx-spark  1        time-slice"}, []string{"KV transfers"}},
		{"seed-colocated-mps", []string{" mps "}, []string{"KV transfers", "Prefix cache"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := scenario.Load("../../scenarios/"+tt.name+".toml", cat, profs)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile("testdata/simulate-" + tt.name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var out twin.Simulation
			if err := json.Unmarshal(data, &out); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			writeSummary(&b, sc, &out)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("summary lacks %q:\n%s", w, b.String())
				}
			}
			for _, n := range tt.not {
				if strings.Contains(b.String(), n) {
					t.Errorf("summary has %q", n)
				}
			}
		})
	}
}

func TestBytesSize(t *testing.T) {
	for _, tt := range []struct {
		b    float64
		want string
	}{{512, "512 B"}, {31.5e6, "31.5 MB"}, {1206710000, "1.21 GB"}, {4.2e12, "4.2e+03 GB"}} {
		if got := bytesSize(tt.b); got != tt.want {
			t.Errorf("bytesSize(%g) = %q, want %q", tt.b, got, tt.want)
		}
	}
}
