package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/tco"
	"github.com/fleettwin/fleettwin/twin"
	"github.com/fleettwin/fleettwin/verdict"
)

// tcoOutput is what `tco --json` writes.
type tcoOutput struct {
	Baseline   *tco.Report    `json:"baseline"`
	Candidate  *tco.Report    `json:"candidate"`
	Comparison tco.Comparison `json:"comparison"`
	Latency    [2][]tcoModel  `json:"latency"`
	// Profiles are the provenance of the profiles each scenario uses.
	Profiles [2][]perf.ProvenanceInfo `json:"profiles"`
}

type tcoModel struct {
	Model      string  `json:"model"`
	TTFTP95S   float64 `json:"ttft_p95_s"`
	TPOTP95S   float64 `json:"tpot_p95_s"`
	SLOMet     bool    `json:"slo_met"`
	Attainment float64 `json:"slo_attainment"`
}

func runTCO(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tco", "tco baseline.toml candidate.toml [--json out.json]", stderr)
	jsonOut := fs.String("json", "", "write both reports and the comparison as JSON to this file")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	var catalogs, profiles stringList
	fs.Var(&catalogs, "catalog", "extra catalog TOML (repeatable)")
	fs.Var(&profiles, "profile", "extra profile TOML (repeatable)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 2 {
		return usagef("want a baseline and a candidate scenario, got %d files", len(files))
	}
	e, err := loadEnv(catalogs, profiles)
	if err != nil {
		return err
	}
	var reports [2]*tco.Report
	var results [2]*sim.Result
	var profs [2][]perf.ProvenanceInfo
	var slos [2][]verdict.SLO
	for i, f := range files {
		sc, err := scenario.Load(f, e.cat, e.profiles)
		if err != nil {
			return err
		}
		prog := newProgress(stderr, *quiet)
		prog.start(sc.Name)
		dur := sc.Duration.Seconds()
		res, err := sim.Run(ctx, sc, sim.Options{OnSnapshot: func(s sim.Snapshot) { prog.update(s.NowS, dur, "sim-s") }})
		prog.end()
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if reports[i], err = tco.Evaluate(sc, res); err != nil {
			return err
		}
		results[i] = res
		profs[i] = twin.Profiles(sc)
		slos[i] = verdict.SLOs(sc)
	}
	cmp := tco.Compare(reports[0], reports[1])
	v := verdict.Of(verdict.Run{Sim: &twin.Simulation{Result: results[1], Cost: reports[1]}, SLOs: slos[1]},
		verdict.Options{Baseline: &verdict.Run{Sim: &twin.Simulation{Result: results[0], Cost: reports[0]}, SLOs: slos[0]}})
	writeTCO(stdout, reports, results, cmp, profs, v)
	if *jsonOut != "" {
		out := tcoOutput{Baseline: reports[0], Candidate: reports[1], Comparison: cmp, Profiles: profs}
		for i, r := range results {
			for _, m := range r.Models {
				out.Latency[i] = append(out.Latency[i], tcoModel{m.Model, m.TTFT.P95, m.TPOT.P95, m.SLOMet, m.SLOAttainment})
			}
		}
		return writeJSON(*jsonOut, out)
	}
	return nil
}

// writeTCOProvenance prints the profiles the figures rest on, saying which
// side uses each, and a note naming those that rest on a prior.
func writeTCOProvenance(w io.Writer, profs [2][]perf.ProvenanceInfo) {
	var all []perf.ProvenanceInfo
	sides := map[string][]string{}
	for i, ps := range profs {
		for _, p := range ps {
			k := p.Hardware + "/" + p.Engine
			if sides[k] == nil {
				all = append(all, p)
			}
			sides[k] = append(sides[k], [2]string{"baseline", "candidate"}[i])
		}
	}
	for _, p := range all {
		side := strings.Join(sides[p.Hardware+"/"+p.Engine], ", ")
		if side == "baseline, candidate" {
			side = "both"
		}
		fmt.Fprintf(w, "profile (%s): %s\n", side, p.Label)
	}
	if note := twin.PriorNote(all); note != "" {
		fmt.Fprintf(w, "note: %s\n", note)
	}
}

// writeTCO prints both costs side by side, each model's latency and
// whether it met its SLO, then the saving with the verdict: a cheaper
// candidate that misses an SLO is never called cheaper without saying so.
func writeTCO(w io.Writer, reports [2]*tco.Report, results [2]*sim.Result, cmp tco.Comparison, profs [2][]perf.ProvenanceInfo, v verdict.Verdict) {
	a, b := reports[0], reports[1]
	fmt.Fprintf(w, "baseline %s against candidate %s\n", a.Scenario, b.Scenario)
	writeTCOProvenance(w, profs)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\t%s\t%s\tCHANGE\n", a.Scenario, b.Scenario)
	row := func(name string, x, y float64, format string) {
		change := "-"
		if x != 0 && !math.IsNaN(x) && !math.IsNaN(y) {
			change = fmt.Sprintf("%+.1f%%", 100*(y-x)/x)
		}
		fmt.Fprintf(tw, "%s\t"+format+"\t"+format+"\t%s\n", name, x, y, change)
	}
	row("hardware spend ($)", a.HardwareSpendUSD, b.HardwareSpendUSD, "%.0f")
	row("devices", float64(len(a.Nodes)), float64(len(b.Nodes)), "%.0f")
	row("cost ($/h)", a.USDPerHour, b.USDPerHour, "%.4f")
	row("  capex ($/h)", a.CapexUSDPerHour, b.CapexUSDPerHour, "%.4f")
	row("  energy ($/h)", a.EnergyUSDPerHour, b.EnergyUSDPerHour, "%.4f")
	row("  other ($/h)", a.OtherUSDPerHour, b.OtherUSDPerHour, "%.4f")
	row("energy at the meter (kWh/h)", a.EnergyKWhPerHour, b.EnergyKWhPerHour, "%.4f")
	row("utilization", 100*a.Utilization, 100*b.Utilization, "%.1f%%")
	row("$/M input tokens", a.USDPerMInputTokens, b.USDPerMInputTokens, "%.4f")
	row("$/M output tokens", a.USDPerMOutputTokens, b.USDPerMOutputTokens, "%.4f")
	row("$/M tokens, blended", a.USDPerMTokens, b.USDPerMTokens, "%.4f")
	row("$/request", a.USDPerRequest, b.USDPerRequest, "%.6f")
	for i, m := range results[0].Models {
		if i < len(results[1].Models) && results[1].Models[i].Model == m.Model {
			n := results[1].Models[i]
			row(m.Model+" TTFT p95 (s)", m.TTFT.P95, n.TTFT.P95, "%.3f")
			row(m.Model+" TPOT p95 (ms)", 1e3*m.TPOT.P95, 1e3*n.TPOT.P95, "%.1f")
			row(m.Model+" SLO attainment", 100*m.SLOAttainment, 100*n.SLOAttainment, "%.1f%%")
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\n", m.Model+" SLO met", yesNo(m.SLOMet), yesNo(n.SLOMet))
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%s against %s: hardware spend %s, total cost per hour %s, cost per token %s", b.Scenario, a.Scenario,
		saving(cmp.HardwareSavingPct), saving(cmp.HourlySavingPct), saving(cmp.PerTokenSavingPct))
	if note := sloNote(v); note != "" {
		fmt.Fprintf(w, ", %s", note)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	v.WriteText(w)
	for i, r := range reports {
		fmt.Fprintf(w, "\nassumptions (%s):\n", [2]string{"baseline", "candidate"}[i])
		for _, s := range r.Assumptions {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
}

func saving(pct float64) string {
	if pct >= 0 {
		return fmt.Sprintf("%.1f%% lower", pct)
	}
	return fmt.Sprintf("%.1f%% higher", -pct)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// sloNote is what the saving line adds when the candidate misses an SLO
// ("but qwen3-14b misses TTFT p95 3.58 s > 3 s, where the baseline meets
// every SLO"); "" when it meets them all.
func sloNote(v verdict.Verdict) string {
	var misses []string
	for _, a := range v.Answers {
		if a.Question == verdict.Latency && a.Status == verdict.Fail {
			misses = append(misses, a.Short)
		}
	}
	if len(misses) == 0 {
		return ""
	}
	note := "but " + strings.Join(misses, "; ")
	for _, a := range v.Answers {
		if a.Question == verdict.Cost && a.Status == verdict.Caveat && strings.Contains(a.Text, "where the baseline meets every SLO") {
			note += ", where the baseline meets every SLO"
		}
	}
	return note
}
