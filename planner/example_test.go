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

// A disaggregated configuration names its pools: inside each node of
// several devices (dp replicas) or across nodes.
func ExampleOutcome_PoolsLabel() {
	o := planner.Outcome{Candidate: planner.Candidate{Settings: planner.Settings{Disaggregated: true}}}
	fmt.Println(o.PoolsLabel())
	o.Groups = []planner.GroupOutcome{
		{Models: []string{"qwen3-8b"}, Pools: &planner.Pools{PrefillShare: 0.82, PrefillDP: 6, DecodeDP: 2}},
		{Models: []string{"qwen3-14b"}, Pools: &planner.Pools{PrefillShare: 0.2, PrefillNodes: 1, DecodeNodes: 3}},
	}
	fmt.Println(o.PoolsLabel())
	// Output:
	// prefill share derived
	// qwen3-8b prefill 6 + decode 2 dp | qwen3-14b prefill 1 + decode 3 nodes
}
