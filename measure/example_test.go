package measure_test

import (
	"fmt"
	"strings"

	"github.com/fleettwin/fleettwin/measure"
)

func ExampleRead() {
	const src = `# vllm bench serve --max-concurrency 4 --num-prompts 100
id,hardware,engine,model,quant,kv_cache,tp,kind,concurrency,requests,rate_rps,input_tokens,output_tokens,depth_tokens,length_cv,settings,metric,value,unit,source,notes
c4-ttft,h100-sxm,trtllm,qwen3-8b,bf16,,,closed-loop,4,100,,233,221,,0,max_seqs=1024,ttft_ms_mean,59.1,ms,a blog,read off a table
c4-tpot,h100-sxm,trtllm,qwen3-8b,bf16,,,closed-loop,4,100,,233,221,,0,max_seqs=1024,tpot_ms_mean,7.2,ms,a blog,read off a table
`
	rows, err := measure.Read("example.csv", strings.NewReader(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rows {
		seqs, _ := r.Settings.Get("max_seqs")
		fmt.Println(r.Pos(), r.Engine, r.Kind, r.Concurrency, r.Metric, r.Value, r.Unit, "max_seqs", seqs)
	}
	fmt.Println("one experiment:", rows[0].Experiment() == rows[1].Experiment())

	_, err = measure.Read("bad.csv", strings.NewReader(strings.Replace(src, "closed-loop,4,", "closed-loop,,", 1)))
	fmt.Println(err)
	// Output:
	// example.csv:3 tensorrt-llm closed-loop 4 ttft_ms_mean 59.1 ms max_seqs 1024
	// example.csv:4 tensorrt-llm closed-loop 4 tpot_ms_mean 7.2 ms max_seqs 1024
	// one experiment: true
	// bad.csv:3: column concurrency: a closed-loop row needs concurrency (clients) (at least 1)
}
