package workload

import (
	"math"
	"os"
	"strings"
	"testing"
)

// fuzzTrace checks what every trace reader promises for any input: no
// panic, and either an error naming the file or records that are sorted,
// finite and in bounds.
func fuzzTrace(f *testing.F, sample string, seeds []string, read func(string) ([]TraceRecord, error)) {
	if b, err := os.ReadFile(sample); err == nil {
		f.Add(string(b[:min(len(b), 2000)]))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := read(in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(recs) == 0 {
			t.Fatal("no records and no error")
		}
		for i, r := range recs {
			if !(r.ArrivalS >= 0) || math.IsInf(r.ArrivalS, 0) {
				t.Fatalf("record %d arrives at %v", i, r.ArrivalS)
			}
			if i > 0 && r.ArrivalS < recs[i-1].ArrivalS {
				t.Fatalf("record %d arrives before record %d", i, i-1)
			}
			if r.InputTokens < 1 || r.InputTokens > MaxTokens || r.OutputTokens < 1 || r.OutputTokens > MaxTokens {
				t.Fatalf("record %d: lengths %d, %d", i, r.InputTokens, r.OutputTokens)
			}
		}
	})
}

func FuzzParseAzure(f *testing.F) {
	fuzzTrace(f, "testdata/traces/azure.csv", []string{
		azureHeader + "2023-11-16 18:15:46.6805900,10,5\n2024-05-10 00:00:00.009930+00:00,1,0\n",
		"NumImages,TIMESTAMP,GeneratedTokens,ContextTokens\n2,2023-11-16T18:15:46Z,4,8\n",
	}, func(in string) ([]TraceRecord, error) {
		return ReadTraceAs("f", strings.NewReader(in), TraceImport{Format: TraceAzure, StartS: 1, Speedup: 2})
	})
}

func FuzzParseBurstGPT(f *testing.F) {
	fuzzTrace(f, "testdata/traces/burstgpt.csv", []string{
		"Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,1,2.3,GPT-4,100,50,150,Conversation log\n",
	}, func(in string) ([]TraceRecord, error) {
		return ReadTraceAs("f", strings.NewReader(in), TraceImport{Format: TraceBurstGPT, Model: "GPT-4"})
	})
}

func FuzzParseMooncake(f *testing.F) {
	fuzzTrace(f, "testdata/traces/mooncake.jsonl", []string{
		`{"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 48]}`,
	}, func(in string) ([]TraceRecord, error) {
		return ReadTraceAs("f", strings.NewReader(in), TraceImport{Format: TraceMooncake, DurationS: 100})
	})
}

func FuzzParseShareGPT(f *testing.F) {
	fuzzTrace(f, "testdata/traces/sharegpt.json", []string{
		`[{"id": "x", "conversations": [{"from": "human", "value": "hi there"}, {"from": "gpt", "value": "hello", "tokens": 2}]}]`,
	}, func(in string) ([]TraceRecord, error) {
		return ReadTraceAs("f", strings.NewReader(in), TraceImport{Format: TraceShareGPT, CharsPerToken: 3.5, Rate: 5, CV: 2})
	})
}
