package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/workload"
)

// runTrace summarizes a trace file as a scenario would replay it: the
// same reader, slice and time scale as trace_format, start_s, duration_s
// and speedup.
func runTrace(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trace", "trace FILE [--format azure|burstgpt|mooncake|sharegpt] [--speedup X] [--start-s S] [--duration-s D] [--json out.json]", stderr)
	format := fs.String("format", "", "trace format: "+workload.Join(workload.TraceFormats)+" (default: the project's own CSV/JSONL)")
	speedup := fs.Float64("speedup", 0, "divide arrival times by this (0: 1)")
	startS := fs.Float64("start-s", 0, "keep requests from this second of the trace (counted from its first row, before speedup)")
	durationS := fs.Float64("duration-s", 0, "keep this many seconds of the trace from --start-s (0: to the end)")
	cpt := fs.Float64("chars-per-token", 0, "sharegpt: characters per token for turns given as text")
	model := fs.String("model", "", "burstgpt: keep only this model's rows")
	rate := fs.Float64("rate", 0, "sharegpt: arrival rate of the conversations, requests/s (they carry no timestamps)")
	cv := fs.Float64("cv", 0, "sharegpt: coefficient of variation of the gaps (0 or 1: Poisson)")
	bins := fs.Int("bins", 10, "rate over time in this many equal parts of the trace")
	jsonOut := fs.String("json", "", "write the summary as JSON to this file")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("want exactly one trace file, got %d", len(files))
	}
	if *bins < 1 || *bins > 1000 {
		return usagef("--bins must be between 1 and 1000, got %d", *bins)
	}
	opt := workload.TraceImport{Format: workload.TraceFormat(*format), Speedup: *speedup, StartS: *startS, DurationS: *durationS,
		CharsPerToken: *cpt, Model: *model, Rate: *rate, CV: *cv}
	if err := opt.Validate(); err != nil {
		return usagef("%s", flagNames(err))
	}
	f, err := os.Open(files[0])
	if err != nil {
		return err
	}
	defer f.Close()
	recs, err := workload.ReadTraceAs(files[0], f, opt)
	if err != nil {
		return err
	}
	s := workload.SummarizeTrace(recs, *bins)
	label := *format
	if label == "" {
		label = "fleettwin CSV/JSONL"
	}
	writeTraceSummary(stdout, files[0]+" ("+label+")", s)
	if *jsonOut != "" {
		return writeJSON(*jsonOut, s)
	}
	return nil
}

// flagNames spells the options' problems by their flags rather than their
// scenario keys.
func flagNames(err error) string {
	var lines []string
	for _, e := range unjoin(err) {
		var fe *workload.FieldError
		if errors.As(e, &fe) {
			name := map[string]string{"trace_format": "format", "trace_model": "model"}[fe.Field]
			if name == "" {
				name = strings.ReplaceAll(fe.Field, "_", "-")
			}
			lines = append(lines, "--"+name+": "+fe.Msg)
			continue
		}
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// writeTraceSummary prints a trace's summary: totals, the rate in each
// bin with a bar, the length percentiles and the prefix reuse.
func writeTraceSummary(w io.Writer, title string, s workload.TraceSummary) {
	fmt.Fprintf(w, "trace %s: %d requests over %.1f s, mean %.3g requests/s\n", title, s.Requests, s.DurationS, s.MeanRate)
	peak := 0.0
	for _, b := range s.Rates {
		peak = max(peak, b.Rate)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "from s\tto s\trequests\trequests/s\t\t")
	for _, b := range s.Rates {
		bar := 0
		if peak > 0 {
			bar = int(b.Rate/peak*30 + 0.5)
		}
		fmt.Fprintf(tw, "%.1f\t%.1f\t%d\t%.3g\t \t%s\n", b.StartS, b.EndS, b.Requests, b.Rate, strings.Repeat("#", bar))
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tokens\tmean\tp50\tp90\tp99\tmax\t")
	for _, l := range []struct {
		name string
		p    workload.LengthPercentiles
	}{{"input", s.Input}, {"output", s.Output}} {
		fmt.Fprintf(tw, "%s\t%.0f\t%d\t%d\t%d\t%d\t\n", l.name, l.p.Mean, l.p.P50, l.p.P90, l.p.P99, l.p.Max)
	}
	tw.Flush()
	if s.HashBlocks > 0 {
		fmt.Fprintf(w, "prefix reuse: %d of %d hash-id blocks (%.1f%%) repeat an earlier one\n", s.ReusedBlocks, s.HashBlocks, 100*s.PrefixReuse)
	} else {
		fmt.Fprintln(w, "prefix reuse: no hash ids in this trace")
	}
}

// writeTraceSummaries prints, for each model that replays a trace, one
// line of what was read (simulate, on stderr unless quiet).
func writeTraceSummaries(w io.Writer, sc *scenario.Scenario, quiet bool) {
	if quiet {
		return
	}
	for _, m := range sc.Models {
		if len(m.Trace) == 0 {
			continue
		}
		s := workload.SummarizeTrace(m.Trace, 1)
		a := m.Workload.Arrival
		format := string(a.TraceFormat)
		if format == "" {
			format = "fleettwin"
		}
		reuse := ""
		if s.HashBlocks > 0 {
			reuse = fmt.Sprintf(", prefix reuse %.1f%% of blocks", 100*s.PrefixReuse)
		}
		fmt.Fprintf(w, "trace %s: %s (%s): %d requests over %.1f s (%.3g/s), input p50/p90/p99 %d/%d/%d, output %d/%d/%d tokens%s\n",
			m.Name, a.Trace, format, s.Requests, s.DurationS, s.MeanRate, s.Input.P50, s.Input.P90, s.Input.P99, s.Output.P50, s.Output.P90, s.Output.P99, reuse)
		end := sc.Duration.Seconds()
		if n := countBefore(m.Trace, end); n < len(m.Trace) {
			fmt.Fprintf(w, "trace %s: the run's %.0f s replay %d of the %d requests (the trace runs to %.0f s)\n", m.Name, end, n, len(m.Trace), m.Trace[len(m.Trace)-1].ArrivalS)
		}
	}
}

// countBefore counts the records arriving before t s.
func countBefore(recs []workload.TraceRecord, t float64) int {
	n := 0
	for _, r := range recs {
		if r.ArrivalS < t {
			n++
		}
	}
	return n
}
