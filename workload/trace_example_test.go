package workload_test

import (
	"fmt"
	"strings"

	"github.com/fleettwin/fleettwin/workload"
)

// A Mooncake trace replayed at twice its speed: arrivals in seconds from
// the first row, halved; the second request repeats the first's two
// hash-id blocks.
func ExampleReadTraceAs() {
	trace := `{"timestamp": 1000, "input_length": 1100, "output_length": 20, "hash_ids": [7, 8, 9]}
{"timestamp": 3000, "input_length": 1500, "output_length": 40, "hash_ids": [7, 8, 10]}
`
	recs, err := workload.ReadTraceAs("t.jsonl", strings.NewReader(trace), workload.TraceImport{Format: workload.TraceMooncake, Speedup: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range recs {
		fmt.Printf("%.1f s: %d -> %d tokens, blocks %v of %d tokens\n", r.ArrivalS, r.InputTokens, r.OutputTokens, r.HashIDs, r.HashBlockTokens)
	}
	s := workload.SummarizeTrace(recs, 1)
	fmt.Printf("%d requests over %.0f s, prefix reuse %d of %d blocks\n", s.Requests, s.DurationS, s.ReusedBlocks, s.HashBlocks)
	// Output:
	// 0.0 s: 1100 -> 20 tokens, blocks [7 8 9] of 512 tokens
	// 1.0 s: 1500 -> 40 tokens, blocks [7 8 10] of 512 tokens
	// 2 requests over 1 s, prefix reuse 2 of 6 blocks
}

// A malformed row names the file, the line and the column.
func ExampleParseAzure() {
	trace := "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.1,ten,5\n"
	_, err := workload.ParseAzure("azure.csv", strings.NewReader(trace))
	fmt.Println(err)
	// Output:
	// azure.csv:3:23: ContextTokens: want a whole number of tokens, got "ten"
}
