package validate_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/validate"
)

func ExampleReproduce() {
	const src = `id,hardware,engine,model,quant,kv_cache,tp,kind,concurrency,requests,rate_rps,input_tokens,output_tokens,depth_tokens,length_cv,settings,metric,value,unit,source,notes
c4-tpot,h100-sxm,vllm,qwen3-8b,bf16,,,closed-loop,4,100,,233,221,,0,max_seqs=1024;max_batched_tokens=8192,tpot_ms_mean,7.5,ms,a blog,
c4-rps,h100-sxm,vllm,qwen3-8b,bf16,,,closed-loop,4,100,,233,221,,0,max_seqs=1024;max_batched_tokens=8192,request_rps,2.2,req/s,a blog,
c4-tp2,h100-sxm,vllm,qwen3-8b,bf16,,2,closed-loop,4,100,,233,221,,0,,request_rps,4.1,req/s,a blog,
`
	rows, err := measure.Read("example.csv", strings.NewReader(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	cat, err := catalog.Load()
	if err != nil {
		fmt.Println(err)
		return
	}
	profiles, err := perf.DefaultProfiles()
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := validate.Reproduce(context.Background(), validate.Env{Catalog: cat, Profiles: profiles}, rows)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res {
		if !r.Ran() {
			fmt.Printf("%s: not run: %v\n", r.ID, r.Err)
			continue
		}
		fmt.Printf("%s: published %g %s, predicted: positive %v\n", r.ID, r.Value, r.Unit, r.Predicted > 0)
	}
	s := validate.Summarize(res)
	fmt.Println("n", s.N, "failed", s.Failed)
	// Output:
	// c4-tpot: published 7.5 ms, predicted: positive true
	// c4-rps: published 2.2 req/s, predicted: positive true
	// c4-tp2: published 4.1 req/s, predicted: positive true
	// n 3 failed 0
}
