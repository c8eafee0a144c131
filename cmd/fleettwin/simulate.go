package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/tco"
	"github.com/fleettwin/fleettwin/twin"
	"github.com/fleettwin/fleettwin/verdict"
)

func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("simulate", "simulate scenario.toml [--seed N] [--replicas N] [--json out.json] [--series out.csv] [--requests out.csv]", stderr)
	seedFlag := optionalSeed{v: -1}
	fs.Var(&seedFlag, "seed", "the random `seed` (default: the scenario's)")
	seed := &seedFlag.v
	replicas := fs.Int("replicas", 1, "independent replicas (seeds seed, seed+1, ...) run in parallel; reports mean and 95% CI")
	jsonOut := fs.String("json", "", "write the result as JSON to this file")
	seriesOut := fs.String("series", "", "write per-device time series as CSV to this file")
	requestsOut := fs.String("requests", "", "write one CSV row per finished request to this file")
	pace := fs.Float64("pace", 0, "run at this multiple of real time (0: as fast as possible)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	var catalogs, profiles stringList
	fs.Var(&catalogs, "catalog", "extra catalog TOML (repeatable)")
	fs.Var(&profiles, "profile", "extra profile TOML (repeatable)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("want exactly one scenario file, got %d", len(files))
	}
	if *replicas < 1 || *replicas > sim.MaxReplicas {
		return usagef("--replicas must be between 1 and %d, got %d", sim.MaxReplicas, *replicas)
	}
	if *seed < -1 {
		return usagef("--seed must not be negative, got %d", *seed)
	}
	if !(*pace >= 0) || math.IsInf(*pace, 0) {
		return usagef("--pace must be 0 (as fast as possible) or a positive multiple of real time, got %v", *pace)
	}
	if *replicas > 1 && (*seriesOut != "" || *requestsOut != "" || *pace > 0) {
		return usagef("--series, --requests and --pace need a single replica")
	}
	e, err := loadEnv(catalogs, profiles)
	if err != nil {
		return err
	}
	sc, err := scenario.Load(files[0], e.cat, e.profiles)
	if err != nil {
		return err
	}
	if *seed >= 0 {
		sc.Seed = uint64(*seed)
	}
	writeTraceSummaries(stderr, sc, *quiet) // tracecmd.go
	prog := newProgress(stderr, *quiet)

	if *replicas > 1 {
		prog.start(fmt.Sprintf("%d replicas", *replicas))
		rep, err := sim.RunReplicas(ctx, sc, *replicas, 0, sim.Options{NoSeries: true}, func(done int) {
			prog.update(float64(done), float64(*replicas), "replicas")
		})
		prog.end()
		if err != nil {
			return err
		}
		writeReplicas(stdout, sc, rep)
		if *jsonOut != "" {
			return writeJSON(*jsonOut, rep)
		}
		return nil
	}

	opt := twin.Options{Pace: *pace}
	dur := sc.Duration.Seconds()
	prog.start(sc.Name)
	opt.OnSnapshot = func(s sim.Snapshot) {
		now := s.NowS
		if s.Done && !s.Partial {
			now = dur
		}
		prog.update(now, dur, "sim-s")
	}
	var reqs *requestWriter
	if *requestsOut != "" {
		if reqs, err = newRequestWriter(*requestsOut); err != nil {
			return err
		}
		opt.OnRequest = reqs.write
	}
	opt.NoSeries = *seriesOut == "" // nothing else here reads them
	out, runErr := twin.Simulate(ctx, sc, opt)
	prog.end()
	var pricing *twin.PricingError
	var cost *twin.CostError
	switch {
	case out == nil:
		return runErr
	case errors.As(runErr, &pricing):
		return runErr
	case errors.As(runErr, &cost):
		return cost.Err
	}
	res := out.Result
	writeSummary(stdout, sc, out)
	var errs []error
	if runErr != nil {
		errs = append(errs, fmt.Errorf("run stopped at %.1f of %.1f simulated seconds: %w (results so far are above and in the files)", res.DurationS, dur, runErr))
	}
	if reqs != nil {
		errs = append(errs, reqs.close(runErr == nil))
	}
	if *jsonOut != "" {
		errs = append(errs, writeJSON(*jsonOut, out))
	}
	if *seriesOut != "" {
		errs = append(errs, writeSeries(*seriesOut, res))
	}
	return errors.Join(errs...)
}

// optionalSeed is --seed: -1 (unset) takes the scenario's. Unset, it
// prints as "", so --help adds no "(default -1)" to "(default: the
// scenario's)".
type optionalSeed struct {
	v   int64
	set bool
}

func (s *optionalSeed) String() string {
	if s == nil || !s.set {
		return ""
	}
	return strconv.FormatInt(s.v, 10)
}

func (s *optionalSeed) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %q", v)
	}
	s.v, s.set = n, true
	return nil
}

func writeJSON(path string, v any) error {
	b, err := jsonfmt.Marshal(v)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o644)
}

func writeSeries(path string, res *sim.Result) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return twin.WriteSeriesCSV(w, res.Series) })
}

// bytesWriter collects a CSV in memory (writePlanCSV).
type bytesWriter struct{ data []byte }

func (b *bytesWriter) Write(p []byte) (int, error) { b.data = append(b.data, p...); return len(p), nil }

func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(jsonfmt.Round(v), 'g', -1, 64)
}

// requestWriter streams request records to path.partial and renames it to
// path when the run completes, so a crash keeps every record written so far
// (in the .partial file) and a finished file is never half-written.
type requestWriter struct {
	path string
	f    *os.File
	buf  *bufio.Writer
	w    *csv.Writer
	err  error
}

func newRequestWriter(path string) (*requestWriter, error) {
	f, err := os.Create(path + ".partial")
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	rw := &requestWriter{path: path, f: f, buf: bufio.NewWriterSize(f, 1<<16)}
	rw.w = csv.NewWriter(rw.buf)
	rw.w.Write([]string{"model", "class", "instance", "arrival_s", "queue_s", "ttft_s", "tpot_s", "e2e_s",
		"input_tokens", "output_tokens", "preemptions", "rejected", "slo_met"})
	return rw, nil
}

func (rw *requestWriter) write(r sim.RequestRecord) {
	if rw.err != nil {
		return
	}
	rw.w.Write([]string{r.Model, r.Class, strconv.Itoa(r.Instance), num(r.ArrivalS), num(r.QueueS), num(r.TTFTS),
		num(r.TPOTS), num(r.E2ES), strconv.Itoa(r.Input), strconv.Itoa(r.Output), strconv.Itoa(r.Preemptions),
		strconv.FormatBool(r.Rejected), strconv.FormatBool(r.SLOMet)})
	rw.err = rw.w.Error()
}

func (rw *requestWriter) close(complete bool) error {
	rw.w.Flush()
	err := errors.Join(rw.err, rw.w.Error(), rw.buf.Flush(), rw.f.Sync(), rw.f.Close())
	if err != nil {
		return fmt.Errorf("requests: %w", err)
	}
	if !complete {
		return fmt.Errorf("requests so far are in %s.partial", rw.path)
	}
	if err := os.Rename(rw.path+".partial", rw.path); err != nil {
		return fmt.Errorf("requests: %w", err)
	}
	return nil
}

// progress prints done/total, rate and time left, at most once a second.
type progress struct {
	w       io.Writer
	quiet   bool
	tty     bool
	began   time.Time
	printed time.Time
	last    float64 // done at the last print
	label   string
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) start(label string) { p.began, p.label = time.Now(), label }

func (p *progress) update(done, total float64, unit string) {
	// Nothing before a fifth of a second: a rate over a few microseconds
	// says nothing about the time left.
	if p.quiet || total <= 0 || done == p.last || done < total && (time.Since(p.printed) < time.Second || time.Since(p.began) < 200*time.Millisecond) {
		return
	}
	p.printed, p.last = time.Now(), done
	el := time.Since(p.began).Seconds()
	rate := done / math.Max(el, 1e-9)
	left := "?"
	if rate > 0 {
		left = (time.Duration((total-done)/rate*1e3) * time.Millisecond).Round(time.Second).String()
	}
	line := fmt.Sprintf("%s: %.0f/%.0f %s (%.0f%%) · %.3g %s per second · %s left", p.label, done, total, unit, 100*done/total, rate, unit, left)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) end() {
	if !p.quiet && p.tty && !p.printed.IsZero() {
		fmt.Fprintln(p.w)
	}
	if !p.quiet && !p.began.IsZero() {
		fmt.Fprintf(p.w, "%s: done in %s\n", p.label, time.Since(p.began).Round(time.Millisecond))
	}
}

func writeSummary(w io.Writer, sc *scenario.Scenario, out *twin.Simulation) {
	r := out.Result
	fmt.Fprintf(w, "%s · seed %d · %.0f s simulated (%.0f s warm-up) · %d events\n", r.Scenario, r.Seed, r.DurationS, r.WarmupS, r.Events)
	writeProvenance(w, out.Profiles)
	fmt.Fprintln(w)
	verdict.Of(verdict.Run{Sim: out, SLOs: verdict.SLOs(sc)}, verdict.Options{}).WriteText(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tARRIVED\tDONE\tREJECTED\tREQ/s\tOUT tok/s\tTTFT p50\tTTFT p95\tTPOT p50\tTPOT p95\tE2E p95\tSLO MET\tATTAINMENT\tGOODPUT/s")
	for _, m := range r.Models {
		met := "no"
		if m.SLOMet {
			met = "yes"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3g\t%.4g\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3g\n", m.Model, m.Arrived, m.Completed, m.Rejected,
			m.RequestsPerS, m.OutputTokensPerS, seconds(m.TTFT.P50), seconds(m.TTFT.P95), seconds(m.TPOT.P50), seconds(m.TPOT.P95),
			seconds(m.E2E.P95), met, pct(m.SLOAttainment), m.GoodputPerS)
	}
	tw.Flush()
	writeServing(w, r) // simulate_serving.go
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tHARDWARE\tDEVICES\tSHARING\tUTIL\tMFU\tMBU\tKV mean\tKV peak\tRUNNING\tWAITING")
	for _, d := range r.Devices {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\n", d.Node, d.Hardware, nodeDevices(d), nodeSharing(sc, d.Node), pct(d.Utilization), pct(d.MFU), pct(d.MBU),
			pct(d.KVUseMean), pct(d.KVUsePeak), d.RunningMean, d.WaitingMean)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPOWER mean\tPOWER peak\tNODE POWER\tENERGY\tTEMP mean\tTEMP peak\tCLOCK mean\tTHROTTLED\tTHERMAL\tPOWER CAP")
	for _, d := range r.Devices {
		fmt.Fprintf(tw, "%s\t%.1f W\t%.1f W\t%.1f W\t%.3g kWh\t%.1f C\t%.1f C\t%s\t%s\t%.0f s\t%.0f s\n", d.Node, d.PowerMeanW, d.PowerPeakW,
			d.NodePowerMeanW, d.EnergyJ/3.6e6, d.TempMeanC, d.TempPeakC, pct(d.ClockMean), pct(d.ThrottledS/r.DurationS), d.ThermalS, d.PowerCapS)
	}
	tw.Flush()
	if len(out.Throttling) > 0 {
		fmt.Fprintln(w, "\nWhat throttling cost (against the same run at full clock):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MODEL\tTTFT p95\tTPOT p50\tTPOT p95\tE2E p95\tOUT tok/s\tATTAINMENT")
		d := func(x sim.Delta) string { return fmt.Sprintf("%+.1f%%", x.Pct) }
		for _, t := range out.Throttling {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s -> %s\n", t.Model, d(t.TTFTP95), d(t.TPOTP50), d(t.TPOTP95), d(t.E2EP95),
				d(t.OutputTokensPerS), pct(t.SLOAttainment.FullClock), pct(t.SLOAttainment.Throttled))
		}
		tw.Flush()
	}
	writeAutoscale(w, r) // autoscalecmd.go
	if c := out.Cost; c != nil {
		writeCost(w, r, c)
	}
	fmt.Fprintf(w, "\nLittle's law: L = %.4g in system, λW = %.4g/s × %.4g s = %.4g\n", r.Little.MeanInSystem, r.Little.ArrivalRate, r.Little.MeanSojournS, r.Little.LambdaW)
	if r.Partial {
		fmt.Fprintln(w, "PARTIAL: the run was stopped before its end")
	}
}

// writeProvenance prints a line per profile the numbers rest on, and a
// note naming those that rest on a prior.
func writeProvenance(w io.Writer, infos []perf.ProvenanceInfo) {
	for _, p := range infos {
		fmt.Fprintf(w, "profile: %s\n", p.Label)
	}
	if note := twin.PriorNote(infos); note != "" {
		fmt.Fprintf(w, "note: %s\n", note)
	}
}

func writeReplicas(w io.Writer, sc *scenario.Scenario, rep *sim.Replicas) {
	fmt.Fprintf(w, "%s · %d replicas (seeds %d-%d) · mean ± 95%% CI\n", sc.Name, len(rep.Runs), rep.Seeds[0], rep.Seeds[len(rep.Seeds)-1])
	writeProvenance(w, twin.Profiles(sc))
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tREQ/s\tOUT tok/s\tGOODPUT/s\tATTAINMENT\tTTFT p95 (s)\tTPOT p95 (s)\tE2E p95 (s)")
	f := func(s sim.Spread) string { return fmt.Sprintf("%.4g ± %.2g", s.Mean, s.CI95) }
	for _, m := range rep.Models {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Model, f(m.RequestsPerS), f(m.OutputTokensPerS), f(m.GoodputPerS),
			f(m.SLOAttainment), f(m.TTFTP95), f(m.TPOTP95), f(m.E2EP95))
	}
	tw.Flush()
	fmt.Fprintln(w)
	verdict.WriteReplicas(w, verdict.Replicas(rep.Runs, verdict.SLOs(sc), verdict.Options{}))
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

func writeCost(w io.Writer, r *sim.Result, c *tco.Report) {
	fmt.Fprintf(w, "\nCost (%s): $%.3f/h = capex $%.3f + energy $%.3f + other $%.3f · hardware $%.0f · %.3g kWh/h at the meter\n",
		c.Pricing, c.USDPerHour, c.CapexUSDPerHour, c.EnergyUSDPerHour, c.OtherUSDPerHour, c.HardwareSpendUSD, c.EnergyKWhPerHour)
	fmt.Fprintf(w, "  $/M tokens: input %s, output %s, blended %s · $/request %s · utilization %s: $%.3f per busy hour\n",
		usd(c.USDPerMInputTokens), usd(c.USDPerMOutputTokens), usd(c.USDPerMTokens), usd(c.USDPerRequest), pct(c.Utilization), c.USDPerBusyHour)
	switch {
	case math.IsNaN(c.BreakEvenMonths):
	case math.IsInf(c.BreakEvenMonths, 1):
		fmt.Fprintf(w, "  renting the same devices ($%.2f/h) is cheaper than running them owned\n", c.CloudUSDPerHour)
	default:
		fmt.Fprintf(w, "  buying beats renting the same devices ($%.2f/h) after %.1f months\n", c.CloudUSDPerHour, c.BreakEvenMonths)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  MODEL\t$/h\t$/M in\t$/M out\t$/M blended\t$/request\tJ/out token\tJ/request")
	for i, m := range c.Models {
		e := r.Models[i]
		fmt.Fprintf(tw, "  %s\t%.4f\t%s\t%s\t%s\t%s\t%.3g\t%.4g\n", m.Model, m.USDPerHour, usd(m.USDPerMInputTokens), usd(m.USDPerMOutputTokens),
			usd(m.USDPerMTokens), usd(m.USDPerRequest), e.EnergyJPerOutputToken, e.EnergyJPerRequest)
	}
	tw.Flush()
	fmt.Fprintln(w, "  assumptions:")
	for _, a := range c.Assumptions {
		fmt.Fprintf(w, "    %s\n", a)
	}
}

func usd(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return "$" + strconv.FormatFloat(v, 'g', 4, 64)
}
