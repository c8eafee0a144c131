package sim_test

import (
	"context"
	"fmt"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

// A system prompt of 3,072 tokens before every 1,024-token question, with
// the prefix cache on (the default where the traffic states a prefix) and
// off: once cached, the prompt is served from the cache, 3072/4096 of
// every request's prompt tokens, and TTFT falls.
func ExampleRun_prefixCaching() {
	profiles, _ := perf.DefaultProfiles()
	for _, cache := range []bool{true, false} {
		src := fmt.Sprintf(`name = "system-prompt"
seed = 1
duration_s = 120
warmup_s = 20
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 1
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 1024
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 32
[models.qwen3-8b.workload.prefix]
groups = 1
tokens = 3072
share = 1
[[nodes]]
name = "h100"
hardware = "h100-sxm"
engine = "vllm"
count = 1
prefix_caching = %t
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"
`, cache)
		sc, err := scenario.Parse("example.toml", []byte(src), catalog.Default(), profiles, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		res, err := sim.Run(context.Background(), sc, sim.Options{})
		if err != nil {
			fmt.Println(err)
			return
		}
		m := res.Models[0]
		if m.PrefixCacheHitRate != nil {
			fmt.Printf("cache on:  hit rate %.2f, TTFT p50 %.0f ms\n", *m.PrefixCacheHitRate, m.TTFT.P50*1000)
		} else {
			fmt.Printf("cache off: TTFT p50 %.0f ms\n", m.TTFT.P50*1000)
		}
	}
	// Output:
	// cache on:  hit rate 0.75, TTFT p50 86 ms
	// cache off: TTFT p50 189 ms
}
