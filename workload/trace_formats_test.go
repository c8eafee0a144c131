package workload

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

func readSample(t *testing.T, path string, opt TraceImport) []TraceRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := ReadTraceAs(path, f, opt)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, recs)
	return recs
}

// checkRecords holds what every reader promises: sorted arrivals from 0,
// token counts in [1, MaxTokens].
func checkRecords(t *testing.T, recs []TraceRecord) {
	t.Helper()
	for i, r := range recs {
		if r.InputTokens < 1 || r.InputTokens > MaxTokens || r.OutputTokens < 1 || r.OutputTokens > MaxTokens {
			t.Fatalf("record %d: lengths %d, %d out of [1, %d]", i, r.InputTokens, r.OutputTokens, MaxTokens)
		}
		if i > 0 && r.ArrivalS < recs[i-1].ArrivalS {
			t.Fatalf("record %d arrives at %v, before record %d at %v", i, r.ArrivalS, i-1, recs[i-1].ArrivalS)
		}
	}
}

// csvRows reads a sample CSV independently of the parsers.
func csvRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows[1:]
}

func TestAzureSample(t *testing.T) {
	const path = "testdata/traces/azure.csv"
	rows := csvRows(t, path)
	recs := readSample(t, path, TraceImport{Format: TraceAzure})
	if len(recs) != len(rows) {
		t.Fatalf("got %d records, want one per row: %d", len(recs), len(rows))
	}
	t0, _ := parseAzureTime(rows[0][0])
	tn, _ := parseAzureTime(rows[len(rows)-1][0])
	if got, want := recs[len(recs)-1].ArrivalS, tn.Sub(t0).Seconds(); got != want || recs[0].ArrivalS != 0 {
		t.Errorf("arrivals run from %v to %v, want 0 to %v", recs[0].ArrivalS, got, want)
	}
	for i, r := range rows {
		if strconv.Itoa(recs[i].InputTokens) != r[1] || strconv.Itoa(recs[i].OutputTokens) != r[2] {
			t.Fatalf("row %d: got %d, %d, want %s, %s", i, recs[i].InputTokens, recs[i].OutputTokens, r[1], r[2])
		}
	}
}

func TestBurstGPTSample(t *testing.T) {
	const path = "testdata/traces/burstgpt.csv"
	rows := csvRows(t, path)
	count := func(model string) int {
		n := 0
		for _, r := range rows {
			if r[3] != "0" && (model == "" || r[1] == model) {
				n++
			}
		}
		return n
	}
	for _, model := range []string{"", "GPT-4", "chatgpt"} {
		recs := readSample(t, path, TraceImport{Format: TraceBurstGPT, Model: model})
		want := count(model)
		if model == "chatgpt" {
			want = count("ChatGPT")
		}
		if len(recs) != want || want == 0 || want == len(rows) {
			t.Errorf("model %q: got %d records, want %d (the non-failed rows of %d)", model, len(recs), want, len(rows))
		}
	}
}

func TestMooncakeSample(t *testing.T) {
	const path = "testdata/traces/mooncake.jsonl"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	recs := readSample(t, path, TraceImport{Format: TraceMooncake})
	if len(recs) != len(lines) {
		t.Fatalf("got %d records, want %d", len(recs), len(lines))
	}
	var last struct {
		Timestamp, First float64
		HashIDs          []uint64 `json:"hash_ids"`
	}
	var first struct{ Timestamp float64 }
	json.Unmarshal([]byte(lines[0]), &first)
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	r := recs[len(recs)-1]
	if got, want := r.ArrivalS, (last.Timestamp-first.Timestamp)/1000; got != want {
		t.Errorf("last arrival %v s, want (ms - first ms)/1000 = %v", got, want)
	}
	if len(r.HashIDs) != len(last.HashIDs) || r.HashBlockTokens != MooncakeBlockTokens {
		t.Errorf("hash ids %v of %d tokens, want %v of %d", r.HashIDs, r.HashBlockTokens, last.HashIDs, MooncakeBlockTokens)
	}
}

func TestShareGPTSample(t *testing.T) {
	const path = "testdata/traces/sharegpt.json"
	var convs []struct {
		ID            string
		Conversations []struct {
			From, Value string
			Tokens      *int
		}
	}
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &convs); err != nil {
		t.Fatal(err)
	}
	recs := readSample(t, path, TraceImport{Format: TraceShareGPT, CharsPerToken: 4, Rate: 2})
	// every conversation but the one without a reply is a request
	if len(recs) != len(convs)-1 {
		t.Fatalf("got %d records, want %d", len(recs), len(convs)-1)
	}
	// the first: its turns before the first reply, and the reply
	c := convs[0].Conversations
	in := 0
	i := 0
	for ; c[i].From != "gpt"; i++ {
		in += *c[i].Tokens
	}
	if recs[0].InputTokens != in || recs[0].OutputTokens != *c[i].Tokens {
		t.Errorf("first request %d -> %d tokens, want %d -> %d (its tokens fields)", recs[0].InputTokens, recs[0].OutputTokens, in, *c[i].Tokens)
	}
	// the second gives text only: characters / 4, rounded up
	c = convs[1].Conversations
	want := (len(c[0].Value) + 3) / 4
	if recs[1].InputTokens != want {
		t.Errorf("second request's prompt %d tokens, want ceil(%d/4) = %d", recs[1].InputTokens, len(c[0].Value), want)
	}
	// Poisson at 2/s: the mean gap is near 0.5 s
	mean := recs[len(recs)-1].ArrivalS / float64(len(recs)-1)
	if mean < 0.3 || mean > 0.8 {
		t.Errorf("mean gap %v s, want near 1/rate = 0.5 s", mean)
	}
	again := readSample(t, path, TraceImport{Format: TraceShareGPT, CharsPerToken: 4, Rate: 2})
	if again[len(again)-1].ArrivalS != recs[len(recs)-1].ArrivalS {
		t.Error("two reads time the conversations differently")
	}
	if _, err := ParseShareGPT(path, strings.NewReader(string(b)), 0); err == nil || !strings.Contains(err.Error(), "chars_per_token") {
		t.Errorf("without chars_per_token: %v, want an error naming chars_per_token", err)
	}
}

// TestReshape slices and scales the Azure sample: the kept requests are
// those of the window, counted from its start, divided by the speedup.
func TestReshape(t *testing.T) {
	all := readSample(t, "testdata/traces/azure.csv", TraceImport{Format: TraceAzure})
	for _, tc := range []struct {
		name string
		opt  TraceImport
	}{
		{"whole", TraceImport{}},
		{"speedup", TraceImport{Speedup: 4}},
		{"slice", TraceImport{StartS: 120, DurationS: 240}},
		{"slice and speedup", TraceImport{StartS: 60, DurationS: 60, Speedup: 0.5}},
		{"from the start to the end", TraceImport{StartS: 300}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Reshape(all, tc.opt)
			speed := tc.opt.Speedup
			if speed == 0 {
				speed = 1
			}
			var want []float64
			for _, r := range all {
				if r.ArrivalS >= tc.opt.StartS && (tc.opt.DurationS == 0 || r.ArrivalS < tc.opt.StartS+tc.opt.DurationS) {
					want = append(want, (r.ArrivalS-tc.opt.StartS)/speed)
				}
			}
			if len(got) != len(want) || len(got) == 0 {
				t.Fatalf("kept %d requests, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].ArrivalS != want[i] {
					t.Fatalf("request %d at %v, want %v", i, got[i].ArrivalS, want[i])
				}
			}
		})
	}
	// Unsorted input is sorted stably and counted from the earliest.
	got := Reshape([]TraceRecord{{ArrivalS: 5, InputTokens: 1}, {ArrivalS: 3, InputTokens: 2}, {ArrivalS: 5, InputTokens: 3}}, TraceImport{})
	if got[0].ArrivalS != 0 || got[0].InputTokens != 2 || got[1].InputTokens != 1 || got[2].InputTokens != 3 || got[2].ArrivalS != 2 {
		t.Errorf("got %+v, want the 3 s row first at 0, then the 5 s rows in file order at 2", got)
	}
	if _, err := ReadTraceAs("a.csv", strings.NewReader(azureHeader+"2023-11-16 18:15:46.0,1,1\n"), TraceImport{Format: TraceAzure, StartS: 10}); err == nil || !strings.Contains(err.Error(), "no requests in [10 s") {
		t.Errorf("an empty slice: %v, want an error naming the window", err)
	}
}

const azureHeader = "TIMESTAMP,ContextTokens,GeneratedTokens\n"

// TestTraceErrors: a malformed row is an error naming the file, the line
// and, for CSV, the column.
func TestTraceErrors(t *testing.T) {
	burst := "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
	for _, tc := range []struct {
		name string
		opt  TraceImport
		in   string
		want string
	}{
		{"azure header", TraceImport{Format: TraceAzure}, "TIMESTAMP,Context,GeneratedTokens\n", "t:1: header lacks column ContextTokens"},
		{"azure time", TraceImport{Format: TraceAzure}, azureHeader + "2023-11-16 18:15:46.1,10,5\nyesterday,10,5\n", "t:3:1: TIMESTAMP: want a date and time"},
		{"azure tokens", TraceImport{Format: TraceAzure}, azureHeader + "2023-11-16 18:15:46.1,10,five\n", "t:2:26: GeneratedTokens: want a whole number"},
		{"azure negative", TraceImport{Format: TraceAzure}, azureHeader + "2023-11-16 18:15:46.1,-3,5\n", "t:2:23: ContextTokens: want between 0 and"},
		{"azure too long", TraceImport{Format: TraceAzure}, azureHeader + "2023-11-16 18:15:46.1,99999999,5\n", "ContextTokens: want between 0 and 1048576"},
		{"azure fields", TraceImport{Format: TraceAzure}, azureHeader + "2023-11-16 18:15:46.1,10\n", "t:2: want 3 fields"},
		{"azure quote", TraceImport{Format: TraceAzure}, azureHeader + "2023-11-16 18:15:46.1,\"10,5\n", "t:2:"},
		{"azure empty", TraceImport{Format: TraceAzure}, "", "t: empty trace"},
		{"azure no rows", TraceImport{Format: TraceAzure}, azureHeader, "t: no records"},
		{"burstgpt time", TraceImport{Format: TraceBurstGPT}, burst + "-1,ChatGPT,10,5,15,API log\n", "t:2:1: Timestamp: want seconds between 0 and"},
		{"burstgpt response", TraceImport{Format: TraceBurstGPT}, burst + "1,ChatGPT,10,x,15,API log\n", "t:2:14: Response tokens: want a whole number"},
		{"burstgpt model", TraceImport{Format: TraceBurstGPT, Model: "Claude"}, burst + "1,ChatGPT,10,5,15,API log\n", "no rows of model \"Claude\" (models: ChatGPT)"},
		{"burstgpt all failed", TraceImport{Format: TraceBurstGPT}, burst + "1,ChatGPT,10,0,10,API log\n", "all 1 rows kept failed"},
		{"burstgpt no model column", TraceImport{Format: TraceBurstGPT, Model: "GPT-4"}, "Timestamp,Request tokens,Response tokens\n1,2,3\n", "t:1: trace_model \"GPT-4\" needs a Model column"},
		{"mooncake syntax", TraceImport{Format: TraceMooncake}, "{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 2}\n{\"timestamp\": 2,, }\n", "t:2:17: invalid character ','"},
		{"mooncake type", TraceImport{Format: TraceMooncake}, "{\"timestamp\": 1, \"input_length\": \"5\", \"output_length\": 2}\n", "t:1:36: input_length: want int"},
		{"mooncake missing", TraceImport{Format: TraceMooncake}, "{\"timestamp\": 1, \"output_length\": 2}\n", "t:1: input_length: required"},
		{"mooncake negative id", TraceImport{Format: TraceMooncake}, "{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 2, \"hash_ids\": [1, -2]}\n", "t:1:"},
		{"mooncake time", TraceImport{Format: TraceMooncake}, "\n\n{\"timestamp\": -4, \"input_length\": 5, \"output_length\": 2}\n", "t:3: timestamp: want milliseconds between 0"},
		{"sharegpt not array", TraceImport{Format: TraceShareGPT, Rate: 1}, "{\"id\": 1}", "t:1:1: want a JSON array"},
		{"sharegpt speaker", TraceImport{Format: TraceShareGPT, Rate: 1, CharsPerToken: 4}, "[\n {\"id\": \"a\", \"conversations\": [\n  {\"from\": \"human\", \"value\": \"hi\"},\n  {\"from\": \"robot\", \"value\": \"yo\"}]}\n]", "t:4:3: conversations.1.from: unknown speaker \"robot\""},
		{"sharegpt tokens", TraceImport{Format: TraceShareGPT, Rate: 1}, "[{\"id\": \"a\", \"conversations\": [{\"from\": \"human\", \"value\": \"hi\", \"tokens\": -1}]}]", "t:1:32: conversations.0.tokens: want between 0"},
		{"sharegpt no cpt", TraceImport{Format: TraceShareGPT, Rate: 1}, "[{\"id\": \"a\", \"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}]}]", "t:1:32: conversations.0: the turn gives no \"tokens\": set chars_per_token"},
		{"sharegpt type", TraceImport{Format: TraceShareGPT, Rate: 1, CharsPerToken: 4}, "[{\"id\": \"a\", \"conversations\": [{\"from\": \"human\", \"value\": 7}]}]", "t:1:32: conversations.0.value: want string"},
		{"sharegpt missing", TraceImport{Format: TraceShareGPT, Rate: 1}, "[{\"id\": \"a\"},\n {\"id\": \"b\"}]", "t:1:2: conversation 1: conversations: required"},
		{"sharegpt truncated", TraceImport{Format: TraceShareGPT, Rate: 1}, "[{\"id\": \"a\", \"conversations\": [", "t:1:"},
		{"sharegpt none", TraceImport{Format: TraceShareGPT, Rate: 1, CharsPerToken: 4}, "[{\"id\": \"a\", \"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}]}]", "none of 1 conversations"},
		{"sharegpt rate", TraceImport{Format: TraceShareGPT, CharsPerToken: 4}, "[{\"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}, {\"from\": \"gpt\", \"value\": \"yo\"}]}]", "set a rate"},
		{"own format", TraceImport{}, "arrival_s,input_tokens,output_tokens\n1,x,2\n", "t:2: input_tokens"},
		{"unknown format", TraceImport{Format: "splitwise"}, "x", "unknown trace format \"splitwise\"; valid: azure, burstgpt, mooncake, sharegpt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTraceAs("t", strings.NewReader(tc.in), tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestTraceFields(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a     Arrival
		field string
		kind  tomlcheck.Kind
	}{
		{"format", Arrival{Process: Trace, Trace: "t", TraceFormat: "csv"}, "arrival.trace_format", tomlcheck.Invalid},
		{"not a trace", Arrival{Process: Poisson, Rate: 1, Speedup: 2}, "arrival.speedup", tomlcheck.Invalid},
		{"speedup", Arrival{Process: Trace, Trace: "t", Speedup: -1}, "arrival.speedup", tomlcheck.OutOfRange},
		{"start", Arrival{Process: Trace, Trace: "t", StartS: -5}, "arrival.start_s", tomlcheck.OutOfRange},
		{"duration", Arrival{Process: Trace, Trace: "t", DurationS: 1e12}, "arrival.duration_s", tomlcheck.OutOfRange},
		{"chars elsewhere", Arrival{Process: Trace, Trace: "t", TraceFormat: TraceAzure, CharsPerToken: 4}, "arrival.chars_per_token", tomlcheck.Invalid},
		{"chars range", Arrival{Process: Trace, Trace: "t", TraceFormat: TraceShareGPT, Rate: 1, CharsPerToken: 500}, "arrival.chars_per_token", tomlcheck.OutOfRange},
		{"model elsewhere", Arrival{Process: Trace, Trace: "t", TraceFormat: TraceMooncake, TraceModel: "GPT-4"}, "arrival.trace_model", tomlcheck.Invalid},
		{"sharegpt rate", Arrival{Process: Trace, Trace: "t", TraceFormat: TraceShareGPT}, "arrival.rate", tomlcheck.Missing},
		{"timed rate", Arrival{Process: Trace, Trace: "t", TraceFormat: TraceAzure, Rate: 3}, "arrival.rate", tomlcheck.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Spec{Arrival: tc.a, Input: Lengths{Dist: Fixed, Value: 1}, Output: Lengths{Dist: Fixed, Value: 1}}.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || fe.Kind != tc.kind {
				t.Errorf("got %v, want a %v error on %s", err, tc.kind, tc.field)
			}
		})
	}
	ok := Arrival{Process: Trace, Trace: "t", TraceFormat: TraceShareGPT, Rate: 2, CV: 3, CharsPerToken: 4, Speedup: 2, StartS: 10, DurationS: 60}
	if err := (Spec{Arrival: ok, Input: Lengths{Dist: Fixed, Value: 1}, Output: Lengths{Dist: Fixed, Value: 1}}).Validate(); err != nil {
		t.Errorf("a valid sharegpt arrival: %v", err)
	}
}

func TestSummarizeTrace(t *testing.T) {
	// 10 requests at 0..9 s; blocks [1 2], [1 2 3], [1 4], ...: reuse
	// counted by hand.
	var recs []TraceRecord
	for i := range 10 {
		recs = append(recs, TraceRecord{ArrivalS: float64(i), InputTokens: 100 * (i + 1), OutputTokens: 10})
	}
	recs[0].HashIDs = []uint64{1, 2}
	recs[1].HashIDs = []uint64{1, 2, 3} // 2 reused
	recs[2].HashIDs = []uint64{1, 4}    // 1 reused
	s := SummarizeTrace(recs, 3)
	if s.Requests != 10 || s.DurationS != 9 || s.MeanRate != 10.0/9 {
		t.Errorf("requests %d over %v s at %v/s, want 10 over 9 s at 10/9", s.Requests, s.DurationS, s.MeanRate)
	}
	if s.HashBlocks != 7 || s.ReusedBlocks != 3 || s.PrefixReuse != 3.0/7 {
		t.Errorf("blocks %d, reused %d (%v), want 7, 3", s.HashBlocks, s.ReusedBlocks, s.PrefixReuse)
	}
	if s.Input.P50 != 500 || s.Input.P90 != 900 || s.Input.P99 != 1000 || s.Input.Max != 1000 || s.Input.Mean != 550 {
		t.Errorf("input percentiles %+v, want p50 500, p90 900, p99 1000, mean 550", s.Input)
	}
	// bins of 3 s: [0,3) 3, [3,6) 3, [6,9] 4
	if len(s.Rates) != 3 || s.Rates[0].Requests != 3 || s.Rates[1].Requests != 3 || s.Rates[2].Requests != 4 || s.Rates[2].Rate != 4.0/3 {
		t.Errorf("rates %+v, want 3, 3, 4 requests in 3 s bins", s.Rates)
	}
	if one := SummarizeTrace(recs[:1], 10); len(one.Rates) != 1 || one.MeanRate != 0 {
		t.Errorf("one request: %+v, want one bin and no rate", one)
	}
}
