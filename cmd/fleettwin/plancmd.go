package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleettwin/fleettwin/chart"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/report"
)

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "merge" {
		return runPlanMerge(ctx, args[1:], stdout, stderr)
	}
	fs := newFlagSet("plan", "plan plan.toml [--shard i/n --out shard.json] [--json out.json] [--csv out.csv] [--charts DIR]\n       fleettwin plan merge shard.json... [--json out.json] [--csv out.csv] [--charts DIR]", stderr)
	shard := fs.String("shard", "", "search only slice `i/n` of the candidates (i from 0 to n-1) and write it with --out; join the slices with fleettwin plan merge")
	shardOut := fs.String("out", "", "with --shard: write the slice's outcomes to this JSON file")
	workers := fs.Int("workers", 0, "parallel simulations (default: every core)")
	out := addPlanOutputs(fs)
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	var catalogs, profiles stringList
	fs.Var(&catalogs, "catalog", "extra catalog TOML (repeatable)")
	fs.Var(&profiles, "profile", "extra profile TOML (repeatable)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("want exactly one plan file, got %d", len(files))
	}
	if *workers < 0 || *workers > 4096 {
		return usagef("--workers must be 0 (every core) to 4096, got %d", *workers)
	}
	opt := planner.Options{Workers: *workers}
	if *shard != "" {
		if opt.Shard, opt.Shards, err = parseShard(*shard); err != nil {
			return usagef("--shard: %v", err)
		}
		if *shardOut == "" {
			return usagef("--shard needs --out to write the slice to")
		}
	}
	e, err := loadEnv(catalogs, profiles)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		return fmt.Errorf("load plan: %w", err)
	}
	p, err := planner.Parse(files[0], data, e.cat, e.profiles, os.DirFS(filepath.Dir(files[0])))
	if err != nil {
		return err
	}
	prog := newProgress(stderr, *quiet)
	label := p.Name
	if opt.Shards > 1 {
		label = fmt.Sprintf("%s shard %d/%d", p.Name, opt.Shard, opt.Shards)
	}
	prog.start(label)
	began := time.Now()
	var sims int64
	opt.Progress = func(pr planner.Progress) {
		sims = pr.Simulations
		prog.update(float64(pr.Done), float64(pr.Total), "configurations")
	}
	s, err := p.Search(ctx, opt)
	prog.end()
	if err != nil {
		return err
	}
	el := time.Since(began)
	if !*quiet {
		fmt.Fprintf(stderr, "searched %d configurations with %d simulations in %s (%.1f configurations/s)\n",
			len(s.Outcomes), sims, el.Round(time.Millisecond), float64(len(s.Outcomes))/el.Seconds())
	}
	if opt.Shards > 1 {
		return writeJSON(*shardOut, s)
	}
	return finishPlan(ctx, p, s, out, stdout, newProgress(stderr, *quiet))
}

func runPlanMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plan merge", "plan merge shard.json... [--json out.json] [--csv out.csv] [--charts DIR]", stderr)
	out := addPlanOutputs(fs)
	var catalogs, profiles stringList
	fs.Var(&catalogs, "catalog", "extra catalog TOML (repeatable; as given to the shards)")
	fs.Var(&profiles, "profile", "extra profile TOML (repeatable; as given to the shards)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("name the shard files to merge")
	}
	var shards []*planner.Shard
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		var s planner.Shard
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("merge: %s: %w", f, err)
		}
		shards = append(shards, &s)
	}
	merged, err := planner.Merge(shards)
	if err != nil {
		return err
	}
	e, err := loadEnv(catalogs, profiles)
	if err != nil {
		return err
	}
	// The plan travels inside the shards; files it names are read next to
	// the first shard.
	p, err := planner.Parse(merged.Plan+".toml", []byte(merged.Source), e.cat, e.profiles, os.DirFS(filepath.Dir(files[0])))
	if err != nil {
		return err
	}
	return finishPlan(ctx, p, merged, out, stdout, newProgress(stderr, false))
}

type planOutputs struct{ json, csv, charts *string }

func addPlanOutputs(fs interface {
	String(name, value, usage string) *string
}) planOutputs {
	return planOutputs{
		json:   fs.String("json", "", "write the result (ranked, Pareto front, rejections, verification) as JSON"),
		csv:    fs.String("csv", "", "write one CSV row per configuration"),
		charts: fs.String("charts", "", "write the Pareto front and the winner's day as SVG and PNG into this folder"),
	}
}

func parseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || n > planner.MaxShards || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("want i/n with 0 <= i < n <= %d, got %q", planner.MaxShards, s)
	}
	return i, n, nil
}

func finishPlan(ctx context.Context, p *planner.Plan, s *planner.Shard, out planOutputs, stdout io.Writer, prog *progress) error {
	prog.start("verifying the winner on fresh seeds, then its day")
	res, err := p.Finish(ctx, s, func(v planner.Verifying) {
		if v.DurationS > 0 {
			prog.update(float64(v.Run-1)+v.NowS/v.DurationS, float64(v.Runs), "runs")
		}
	})
	prog.end()
	if res != nil {
		writePlanSummary(stdout, res)
	}
	if err != nil {
		return err
	}
	if *out.json != "" {
		if err := writeJSON(*out.json, res); err != nil {
			return err
		}
	}
	if *out.csv != "" {
		if err := writePlanCSV(*out.csv, res); err != nil {
			return err
		}
	}
	if *out.charts != "" {
		if err := writePlanCharts(*out.charts, res); err != nil {
			return err
		}
	}
	return nil
}

func writePlanSummary(w io.Writer, r *planner.Result) {
	fmt.Fprintf(w, "plan %s: %d configurations, %d meet every target", r.Plan, r.Candidates, len(r.Ranked))
	if len(r.Reasons) > 0 {
		fmt.Fprintf(w, "; turned down:")
		for _, k := range []string{planner.ReasonMemory, planner.ReasonCapacity, planner.ReasonSLO, planner.ReasonThermal, planner.ReasonRejected, planner.ReasonDominated, planner.ReasonCostly, planner.ReasonInvalid} {
			if n := r.Reasons[k]; n > 0 {
				fmt.Fprintf(w, " %s %d", k, n)
			}
		}
	}
	fmt.Fprintln(w)
	for _, p := range r.Profiles {
		fmt.Fprintf(w, "profile: %s\n", p.Label)
	}
	if len(r.Ranked) == 0 {
		fmt.Fprintln(w, "no configuration in the space meets the targets; the rejections say why:")
		for _, o := range r.Rejected[:min(len(r.Rejected), 10)] {
			fmt.Fprintf(w, "  #%d %s: %s: %s\n", o.Index, o.Key, o.Reason, o.Detail)
		}
		return
	}
	pareto := map[int]bool{}
	for _, i := range r.Pareto {
		pareto[i] = true
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rank\t#\tnodes\t$/month\t$/M tok\tTTFT p95 s\tTPOT p95 ms\tutil\tpeak C\tthrottled\tpareto\tprofile\t configuration")
	for i, o := range r.Ranked[:min(len(r.Ranked), 15)] {
		m := o.Metrics
		mark := ""
		if pareto[o.Index] {
			mark = "*"
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.1f\t%.0f%%\t%.1f\t%.1f%%\t%s\t%s\t %s\n", i+1, o.Index, m.Nodes, m.USDPerMonth, m.USDPerMTokens,
			m.WorstTTFTP95, 1000*m.WorstTPOTP95, 100*m.Utilization, m.TempPeakC, m.ThrottledPct, mark, profileMark(o), report.Describe(o))
	}
	tw.Flush()
	if len(r.Ranked) > 15 {
		fmt.Fprintf(w, "(%d more in --json / --csv)\n", len(r.Ranked)-15)
	}
	if n := len(r.Priors()); n > 0 {
		fmt.Fprintf(w, "note: %d of %d configurations that meet every target rest on a prior profile (profile column; datasheet peaks times typical efficiencies, not fitted to measurements)\n", n, len(r.Ranked))
	}
	if n := len(r.FormatPriors()); n > 0 {
		fmt.Fprintf(w, "note: %d of %d configurations that meet every target rest on a weight-format factor their profile's fit did not set (profile column: format prior; the provenance says which)\n", n, len(r.Ranked))
	}
	for _, l := range r.Layouts {
		if l.Index < 0 {
			fmt.Fprintf(w, "placement %s: no configuration works (%s)\n", l.Layout, l.FewerNodes)
			continue
		}
		fmt.Fprintf(w, "placement %s: cheapest #%d, %d nodes, $%.0f/month", l.Layout, l.Index, l.Nodes, l.USDPerMonth)
		if l.FewerNodes != "" {
			fmt.Fprintf(w, "; fewer nodes miss: %s", l.FewerNodes)
		}
		fmt.Fprintln(w)
	}
	for _, u := range r.Unverified {
		for _, run := range u.Runs {
			if !run.Met {
				fmt.Fprintf(w, "#%d is cheaper but missed on fresh seed %d: %s\n", u.Index, run.Seed, run.Detail)
				break
			}
		}
	}
	if r.Winner != nil {
		fmt.Fprintf(w, "winner: #%d %s: %d nodes, $%.0f/month ($%.3f/h), $%.2f per million tokens\n", r.Winner.Index, report.Describe(*r.Winner),
			r.Winner.Metrics.Nodes, r.Winner.Metrics.USDPerMonth, r.Winner.Metrics.USDPerHour, r.Winner.Metrics.USDPerMTokens)
		if r.Winner.Prior {
			fmt.Fprintf(w, "  note: the winner rests on a prior: %s\n", r.Winner.Provenance)
		} else if len(r.Winner.FormatPriors) > 0 {
			fmt.Fprintf(w, "  note: the winner's weight format is not fitted for its engine: %s\n", r.Winner.Provenance)
		} else if r.Winner.Provenance != "" {
			fmt.Fprintf(w, "  profile: %s\n", r.Winner.Provenance)
		}
	}
	if v := r.Verify; v != nil {
		for _, run := range v.Runs {
			verdict := "meets every target"
			if !run.Met {
				verdict = "MISSES: " + run.Detail
			}
			fmt.Fprintf(w, "  fresh seed %d at the design load: %s (worst TTFT p95 %.2f s, TPOT p95 %.1f ms)\n", run.Seed, verdict, run.Metrics.WorstTTFTP95, 1000*run.Metrics.WorstTPOTP95)
		}
		if d := v.Day; d != nil {
			fmt.Fprintf(w, "  over %.0f h of the plan's traffic: $%.3f/h, $%.2f per million tokens, utilization %.0f%%, peak %.1f C, throttled %.1f%%\n",
				d.DurationS/3600, d.Metrics.USDPerHour, d.Metrics.USDPerMTokens, 100*d.Metrics.Utilization, d.Metrics.TempPeakC, d.Metrics.ThrottledPct)
			writeDaySLO(w, "fixed at the peak", d)
		}
		if d := v.ScaledDay; d != nil {
			writeScaledDay(w, v.Day, d) // autoscalecmd.go
		}
	}
}

// profileMark is the table's profile column: "prior" for a configuration
// resting on a profile not fitted to measurements, "format prior" for one
// whose weight format's factor that profile's fit did not set.
func profileMark(o planner.Outcome) string {
	switch {
	case o.Prior:
		return "prior"
	case len(o.FormatPriors) > 0:
		return "format prior"
	}
	return "fitted"
}

func writePlanCSV(path string, r *planner.Result) error {
	var b bytesWriter
	w := csv.NewWriter(&b)
	w.Write([]string{"index", "status", "rank", "pareto", "hardware", "engine", "quant", "kv_cache", "layout", "memory", "sharing", "max_seqs", "max_batched_tokens", "power_cap_w",
		"nodes", "usd_per_month", "usd_per_hour", "usd_per_m_tokens", "hardware_usd", "worst_ttft_p95_s", "worst_tpot_p95_s", "utilization", "node_power_w", "temp_peak_c", "throttled_pct",
		"bound_nodes", "bound_usd_per_hour", "bound_tpot_s", "reason", "detail", "disaggregated", "pools", "prior", "provenance", "tp", "pp", "ep", "dp", "speculative"})
	pareto := map[int]bool{}
	for _, i := range r.Pareto {
		pareto[i] = true
	}
	row := func(o planner.Outcome, status string, rank int) {
		rec := []string{strconv.Itoa(o.Index), status, "", strconv.FormatBool(pareto[o.Index]), o.Hardware, o.Engine, o.Quant, o.KVCache, o.Layout(), string(o.Memory), string(o.Sharing),
			strconv.Itoa(o.MaxSeqs), strconv.Itoa(o.MaxBatchedTokens), num(o.PowerCapW)}
		if rank > 0 {
			rec[2] = strconv.Itoa(rank)
		}
		if m := o.Metrics; m != nil {
			rec = append(rec, strconv.Itoa(m.Nodes), num(m.USDPerMonth), num(m.USDPerHour), num(m.USDPerMTokens), num(m.HardwareUSD), num(m.WorstTTFTP95), num(m.WorstTPOTP95),
				num(m.Utilization), num(m.NodePowerW), num(m.TempPeakC), num(m.ThrottledPct))
		} else {
			rec = append(rec, "", "", "", "", "", "", "", "", "", "", "")
		}
		rec = append(rec, strconv.Itoa(o.Bounds.MinNodes), num(o.Bounds.USDPerHour), num(o.Bounds.TPOTS), o.Reason, o.Detail,
			strconv.FormatBool(o.Disaggregated), o.PoolsLabel(), strconv.FormatBool(o.Prior), o.Provenance)
		// The layout, empty on a node of one device; dp per node group
		// ("8 8"), and the speculative decoding ("off" where none).
		var dp []string
		for _, d := range o.DP {
			dp = append(dp, strconv.Itoa(d))
		}
		deg := func(v int) string {
			if o.TP == 0 {
				return ""
			}
			return strconv.Itoa(max(v, 1))
		}
		rec = append(rec, deg(o.TP), deg(o.PP), deg(o.EP), strings.Join(dp, " "), planner.SpecLabel(o.Speculative))
		w.Write(rec)
	}
	for i, o := range r.Ranked {
		row(o, "feasible", i+1)
	}
	for _, o := range r.Rejected {
		row(o, "rejected", 0)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b.data, 0o644)
}

// writePlanCharts writes each of the plan's charts as SVG and PNG.
func writePlanCharts(dir string, r *planner.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("charts: %w", err)
	}
	for _, c := range report.PlanCharts(r) {
		for _, format := range chart.Formats {
			path := filepath.Join(dir, c.Name+"."+format)
			if err := atomicfile.Write(path, 0o644, func(w io.Writer) error { return c.Draw(w, format) }); err != nil {
				return fmt.Errorf("chart %s: %w", path, err)
			}
		}
	}
	return nil
}
