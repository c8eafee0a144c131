package planner_test

import (
	"context"
	"fmt"
	"log"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/planner"
)

// A plan names the traffic, the SLOs and the space to search; Search
// evaluates it and Finish ranks what meets the SLOs.
func Example() {
	cat, _ := catalog.Load()
	profiles, _ := perf.DefaultProfiles()
	plan := []byte(`
name = "one-model"
seed = 1
window_s = 600
verify_seeds = 1

[models.qwen3-8b.slo]
ttft_s = 2.0
tpot_s = 0.1

[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 0.5

[models.qwen3-8b.workload.input]
dist = "fixed"
value = 512

[models.qwen3-8b.workload.output]
dist = "fixed"
value = 128

[search]
hardware = ["dgx-spark"]
engines = ["llama.cpp"]
quants = ["q4_k_m", "bf16"]
max_seqs = [8]
max_nodes = 8
`)
	p, err := planner.Parse("one-model.toml", plan, cat, profiles, nil)
	if err != nil {
		log.Fatal(err)
	}
	shard, err := p.Search(context.Background(), planner.Options{})
	if err != nil {
		log.Fatal(err)
	}
	r, err := p.Finish(context.Background(), shard, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range r.Ranked {
		fmt.Printf("%s: %d nodes, $%.0f/month\n", o.Quant, o.Metrics.Nodes, o.Metrics.USDPerMonth)
	}
	fmt.Println("winner verified on fresh seeds:", r.Verify.Met)
	// Output:
	// q4_k_m: 1 nodes, $142/month
	// bf16: 3 nodes, $429/month
	// winner verified on fresh seeds: true
}
