package scenario

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// TestTraceFormats reads a trace by its trace_format, sliced and scaled,
// and locates a trace's problems: a bad field at its line, a malformed
// row at the trace key with the file's line and column.
func TestTraceFormats(t *testing.T) {
	files := fstest.MapFS{
		"az.csv":  {Data: []byte("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.0000000,100,10\n2023-11-16 18:15:50.0000000,200,20\n2023-11-16 18:15:56.0000000,300,30\n")},
		"bad.csv": {Data: []byte("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.0000000,100,ten\n")},
	}
	arrival := func(fields string) string {
		return strings.Replace(base, "process = \"poisson\"\nrate = 1.0", "process = \"trace\"\n"+fields, 1)
	}
	sc, err := Parse("t.toml", []byte(arrival("trace = \"az.csv\"\ntrace_format = \"azure\"\nstart_s = 2.0\nspeedup = 2.0")), cat, profiles, files)
	if err != nil {
		t.Fatal(err)
	}
	got := sc.Models[0].Trace
	// rows at 0, 4 and 10 s; from 2 s on: 4 and 10, less 2, halved
	if len(got) != 2 || got[0].ArrivalS != 1 || got[0].InputTokens != 200 || got[1].ArrivalS != 4 {
		t.Errorf("trace %+v, want the 200- and 300-token rows at 1 s and 4 s", got)
	}
	for _, tc := range []struct {
		name, fields, field, msg string
		kind                     tomlcheck.Kind
	}{
		{"format", "trace = \"az.csv\"\ntrace_format = \"splitwise\"", "models.qwen3-8b.workload.arrival.trace_format", "valid: azure, burstgpt, mooncake, sharegpt", tomlcheck.Invalid},
		{"sharegpt rate", "trace = \"az.csv\"\ntrace_format = \"sharegpt\"\nchars_per_token = 4.0", "models.qwen3-8b.workload.arrival.rate", "required for trace_format \"sharegpt\"", tomlcheck.Missing},
		{"malformed row", "trace = \"bad.csv\"\ntrace_format = \"azure\"", "models.qwen3-8b.workload.arrival.trace", "bad.csv:2:33: GeneratedTokens: want a whole number", tomlcheck.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(arrival(tc.fields)), cat, profiles, files)
			e := findField(t, err, tc.field)
			if e.Kind != tc.kind || !strings.Contains(e.Msg, tc.msg) || e.Line == 0 {
				t.Errorf("%s (kind %v, line %d), want a %v error with %q at a line", e, e.Kind, e.Line, tc.kind, tc.msg)
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != 1 {
				t.Errorf("%d errors, want one:\n%v", n, err)
			}
		})
	}
}
