package jobs

import (
	"strings"
	"testing"
)

// lengthsPlan is a plan whose input lengths come from a file.
const lengthsPlan = `name = "lengths-plan"
seed = 1
window_s = 60
warmup_s = 10

[models.qwen3-8b.slo]
tpot_s = 0.05

[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 2.0

[models.qwen3-8b.workload.input]
dist = "empirical"
file = "traces/lengths.csv"

[models.qwen3-8b.workload.output]
dist = "fixed"
value = 64

[search]
hardware = ["h100-sxm"]
engines = ["vllm"]
quants = ["fp8"]
max_nodes = 4
`

// TestPlansReadShippedFolder: a plan written in the dashboard reads the
// files it names from the shipped scenarios' folder, as a run does, so a
// file missing there is reported as missing, by name, not as a plan that
// has no folder at all.
func TestPlansReadShippedFolder(t *testing.T) {
	s := OpenPlans(t.Context(), config(t, ""), 1)
	defer s.Close()
	_, err := s.Parse("lengths-plan.toml", []byte(lengthsPlan))
	if err == nil {
		t.Fatal("a plan naming traces/lengths.csv, which is not shipped, parsed")
	}
	if msg := err.Error(); !strings.Contains(msg, "traces/lengths.csv") || strings.Contains(msg, "no folder") {
		t.Fatalf("got %q, want the missing file named, read from the scenarios' folder", msg)
	}
}
