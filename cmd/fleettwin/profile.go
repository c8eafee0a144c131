package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/validate"
)

func runProfile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	subs := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"fit":         runProfileFit,
		"check":       runProfileCheck,
		"prior":       runProfilePrior,
		"list":        runProfileList,
		"fit-serving": runProfileFitServing, // profile_serving.go
		"fit-sharing": runProfileFitSharing, // profile_sharing.go
	}
	subs["fit-speculative"] = runProfileFitSpeculative // profile_speculative.go
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, `Usage: fleettwin profile <fit|fit-serving|fit-sharing|fit-speculative|check|prior|list> [flags]

  fit              fit a profile's coefficients to benchmark rows (CSV) and write it
  fit-serving      fit an engine's serving terms to published serving rows, simulator in the loop
  fit-sharing      fit a profile's [sharing] coefficients to published co-location cases
  fit-speculative  fit a profile's [speculative] terms to published speculative-decoding rows
  check            compare a profile's predictions with benchmark rows it was not fitted on
  prior            write the datasheet-based starting profile for a hardware and engine
  list             list the profiles built in (and any given with --profile)
`)
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	sub, ok := subs[args[0]]
	if !ok {
		return usagef("unknown subcommand %q; valid: check, fit, fit-serving, fit-sharing, fit-speculative, list, prior", args[0])
	}
	return sub(ctx, args[1:], stdout, stderr)
}

// readBench reads the bench rows of hardware and engine from measurement
// files (testdata/published/MEASUREMENTS.md).
func readBench(paths []string, hardware, engine string) ([]perf.BenchRow, error) {
	var out []perf.BenchRow
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read measurement rows: %w", err)
		}
		rows, err := measure.Read(path, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		b, err := perf.BenchRows(rows, hardware, engine)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

func runProfileFit(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("profile fit", "profile fit --data rows.csv --hardware H --engine E [--hold-out REGEXP] [--check rows.csv] [--fix TERM] [--with OPTIONAL] [--as ENGINE] [--out profile.toml]", stderr)
	data := fs.String("data", "", "measurement rows CSV (format: testdata/published/MEASUREMENTS.md); the bench rows of --hardware and --engine are fitted")
	hardware := fs.String("hardware", "dgx-spark", "hardware the rows were measured on")
	engine := fs.String("engine", "llama.cpp", "engine the rows were measured with")
	chunk := fs.Int("chunk", 0, "prefill chunk (tokens per step) of rows without a ubatch setting; 0 = the engine's default")
	kv := fs.String("kv", "fp16", "KV-cache type the rows were measured with")
	holdOut := fs.String("hold-out", "", "rows whose id matches this regular expression are not fitted, only checked")
	as := fs.String("as", "", "write the profile for this engine instead, with its own prior's settings (Ollama runs llama.cpp's kernels)")
	out := fs.String("out", "", "write the profile here (atomically); default: print it")
	var catalogs, checks, fixed, with stringList
	fs.Var(&catalogs, "catalog", "extra catalog TOML (repeatable)")
	fs.Var(&fixed, "fix", "hold this coefficient at perf.Prior's value instead of fitting it (repeatable)")
	fs.Var(&with, "with", "also fit this optional coefficient (serial_fraction, expert_overlap, multi_seq_expert_pass); without it, it keeps perf.Prior's 0 (repeatable)")
	fs.Var(&checks, "check", "measurement rows CSV never fitted, only checked (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return usagef("--data is required")
	}
	if *chunk < 0 || *chunk > 1<<20 {
		return usagef("--chunk must be 0 (the engine's default) to %d tokens, got %d", 1<<20, *chunk)
	}
	hold, err := regexp.Compile(*holdOut)
	if err != nil {
		return usagef("--hold-out: %v", err)
	}
	e, err := loadEnv(catalogs, nil)
	if err != nil {
		return err
	}
	hw, err := e.cat.HardwareNamed(*hardware)
	if err != nil {
		return usageError{err.Error()}
	}
	target := *engine
	if *as != "" {
		target = *as
	}
	for _, en := range []string{*engine, target} {
		if !slices.Contains(perf.Engines, en) {
			return usagef("unknown engine %q; valid: %s", en, strings.Join(perf.Engines, ", "))
		}
	}
	rows, err := readBench([]string{*data}, hw.Name, *engine)
	if err != nil {
		return err
	}
	var fitRows, heldRows []perf.BenchRow
	for _, r := range rows {
		if *holdOut != "" && hold.MatchString(r.ID) {
			heldRows = append(heldRows, r)
		} else {
			fitRows = append(fitRows, r)
		}
	}
	if len(fitRows) == 0 {
		return fmt.Errorf("%s: no bench rows of %s/%s to fit", *data, hw.Name, *engine)
	}
	checkRows, err := readBench(checks, hw.Name, *engine)
	if err != nil {
		return err
	}
	prior := perf.Prior(hw.Name, *engine)
	if *chunk > 0 {
		prior.PrefillChunk = *chunk
	}
	obs, err := perf.BenchObservations(e.cat, hw, *kv, prior, fitRows)
	if err != nil {
		return fmt.Errorf("%s: %w", *data, err)
	}
	res, err := perf.FitProfileWith(prior, obs, perf.FitOptions{Fixed: fixed, With: with})
	if err != nil {
		return usageError{err.Error()}
	}
	p := res.Profile
	var sources []string
	for _, r := range fitRows {
		sources = append(sources, r.Source)
	}
	p.Provenance.Source = fmt.Sprintf("%d %s/%s bench rows of %s", len(fitRows), hw.Name, *engine, *data)
	p.Provenance.SetFit(len(fitRows), sources, "", *data)
	cmd := fmt.Sprintf("fleettwin profile fit --data %s --hardware %s --engine %s --chunk %d --kv %s", *data, hw.Name, *engine, prior.PrefillChunk, *kv)
	if *holdOut != "" {
		cmd += " --hold-out '" + *holdOut + "'"
		for _, r := range heldRows {
			p.Provenance.HeldOut = append(p.Provenance.HeldOut, r.ID)
		}
	}
	for _, c := range checks {
		cmd += " --check " + c
	}
	for _, f := range fixed {
		cmd += " --fix " + f
	}
	for _, f := range with {
		cmd += " --with " + f
	}
	p.Provenance.Notes = "Coefficients not listed in 'fitted' keep perf.Prior's value: the rows cannot inform them. " +
		"stderr is one standard error; 0 = not fitted, nan = at a bound or not identifiable."
	if *as != "" {
		cmd += " --as " + *as
		p = asEngine(p, hw.Name, *engine, target)
	}
	p.Provenance.Command = cmd
	writeRows(stdout, "fit", res.Rows)
	held, outliers := splitOutliers(append(slices.Clone(heldRows), checkRows...))
	if len(held) > 0 {
		hobs, err := perf.BenchObservations(e.cat, hw, *kv, res.Profile, held)
		if err != nil {
			return err
		}
		hr := perf.Evaluate(res.Profile, hobs)
		writeRows(stdout, "held out", hr)
		s := perf.Summarize(hr)
		what := strings.Join(append([]string{fmt.Sprintf("%d rows of %s matching %q", len(heldRows), *data, *holdOut)}, checks...), " + ")
		if len(outliers) > 0 {
			orows, err := writeOutliers(stdout, e, hw, *kv, res.Profile, outliers)
			if err != nil {
				return err
			}
			var names []string
			for i, r := range orows {
				names = append(names, fmt.Sprintf("%s %+.1f%%", outliers[i].ID, r.ErrorPct))
			}
			what += fmt.Sprintf("; %d outlier(s) not counted, reasons in their notes: %s", len(outliers), strings.Join(names, ", "))
			p.Provenance.Notes += fmt.Sprintf(" Outliers predicted but not counted in check (their notes say why): %s.", strings.Join(names, ", "))
		}
		if *as == "" {
			p.Provenance.SetHeldOut(len(hr), s.MedianAbsPct, s.MaxAbsPct, what)
		} else {
			// The error is the measured engine's; target has no rows of its own.
			p.Provenance.Notes += fmt.Sprintf(" Not checked on %s rows (none published); on held-out %s rows: median |error| %.1f%%, max %.1f%%.", target, *engine, s.MedianAbsPct, s.MaxAbsPct)
		}
	}
	fmt.Fprintf(stdout, "\nfitted %s in %d iterations\n", strings.Join(p.Provenance.Fitted, ", "), res.Iterations)
	enc, err := perf.EncodeProfile(p, fmt.Sprintf("Performance profile for %s with %s.\nGenerated by: %s\nDo not edit by hand: rerun the command.", hw.Name, target, p.Provenance.Command))
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(enc)
		return err
	}
	if err := atomicfile.WriteFile(*out, enc, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// asEngine turns a profile fitted on measured's rows into one for target,
// an engine running the same kernels: the step terms stay, the engine
// settings (chunk, memory fraction, admission lag) are target's prior's.
func asEngine(p perf.Profile, hardware, measured, target string) perf.Profile {
	t := perf.Prior(hardware, target)
	p.Engine = target
	p.PrefillChunk, p.MemoryFraction, p.AdmissionLagS = t.PrefillChunk, t.MemoryFraction, t.AdmissionLagS
	p.Provenance.Notes = fmt.Sprintf("%s runs %s's kernels: the step terms are %s's, fitted on its rows; prefill chunk, memory fraction and admission lag are %s's prior (perf.Prior). ",
		target, measured, measured, target) + p.Provenance.Notes
	return p
}

func runProfileCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("profile check", "profile check --data rows.csv [--hardware H --engine E] [--profile p.toml]", stderr)
	data := fs.String("data", "", "measurement rows CSV to check against (its bench rows of --hardware and --engine)")
	hardware := fs.String("hardware", "dgx-spark", "hardware the rows were measured on")
	engine := fs.String("engine", "llama.cpp", "engine the rows were measured with")
	kv := fs.String("kv", "fp16", "KV-cache type the rows were measured with")
	var catalogs, profiles stringList
	fs.Var(&catalogs, "catalog", "extra catalog TOML (repeatable)")
	fs.Var(&profiles, "profile", "profile TOML to check instead of the built-in one (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return usagef("--data is required")
	}
	e, err := loadEnv(catalogs, profiles)
	if err != nil {
		return err
	}
	hw, err := e.cat.HardwareNamed(*hardware)
	if err != nil {
		return usageError{err.Error()}
	}
	p, err := e.profiles.Get(hw.Name, *engine)
	if err != nil {
		return usageError{err.Error()}
	}
	rows, err := readBench([]string{*data}, hw.Name, *engine)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("%s: no bench rows of %s/%s", *data, hw.Name, *engine)
	}
	rows, outliers := splitOutliers(rows)
	if len(rows) > 0 {
		obs, err := perf.BenchObservations(e.cat, hw, *kv, p, rows)
		if err != nil {
			return fmt.Errorf("%s: %w", *data, err)
		}
		writeRows(stdout, "check", perf.Evaluate(p, obs))
	}
	if _, err := writeOutliers(stdout, e, hw, *kv, p, outliers); err != nil {
		return fmt.Errorf("%s: %w", *data, err)
	}
	return nil
}

// splitOutliers separates the rows marked as outliers (perf.BenchRow.Outlier)
// from the others, keeping each side's order.
func splitOutliers(rows []perf.BenchRow) (ordinary, outliers []perf.BenchRow) {
	for _, r := range rows {
		if r.Outlier != "" {
			outliers = append(outliers, r)
		} else {
			ordinary = append(ordinary, r)
		}
	}
	return ordinary, outliers
}

// writeOutliers predicts the outlier rows and prints them apart from the
// checked rows, with their count and each one's reason; none prints
// nothing.
func writeOutliers(w io.Writer, e *env, hw catalog.Hardware, kv string, p perf.Profile, rows []perf.BenchRow) ([]perf.FitRow, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	obs, err := perf.BenchObservations(e.cat, hw, kv, p, rows)
	if err != nil {
		return nil, err
	}
	out := perf.Evaluate(p, obs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "OUTLIER\tMEASURED\tPREDICTED\tERROR\t")
	for _, r := range out {
		fmt.Fprintf(tw, "%s\t%.2f %s\t%.2f %s\t%+.1f%%\t\n", r.ID, r.Measured, r.Unit, r.Predicted, r.Unit, r.ErrorPct)
	}
	tw.Flush()
	fmt.Fprintf(w, "outliers: %d rows, not counted above:\n", len(rows))
	for _, r := range rows {
		fmt.Fprintf(w, "  %s: %s\n", r.ID, r.Outlier)
	}
	return out, nil
}

func runProfilePrior(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("profile prior", "profile prior --hardware H --engine E [--check rows.csv] [--out profile.toml]", stderr)
	hardware := fs.String("hardware", "", "hardware name from the catalog")
	engine := fs.String("engine", "vllm", "serving engine")
	check := fs.String("check", "", "score the prior on this file's rows of the same hardware and engine (measurement rows) and record the error")
	out := fs.String("out", "", "write the profile here (atomically); default: print it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e, err := loadEnv(nil, nil)
	if err != nil {
		return err
	}
	hw, err := e.cat.HardwareNamed(*hardware)
	if err != nil {
		return usageError{err.Error()}
	}
	if !slices.Contains(perf.Engines, *engine) {
		return usagef("unknown engine %q; valid: %s", *engine, strings.Join(perf.Engines, ", "))
	}
	p := perf.Prior(hw.Name, *engine)
	p.Provenance.Command = fmt.Sprintf("fleettwin profile prior --hardware %s --engine %s", hw.Name, *engine)
	if *check != "" {
		p.Provenance.Command += " --check " + *check
		if err := checkPrior(ctx, &p, e.cat, *check); err != nil {
			return err
		}
	}
	enc, err := perf.EncodeProfile(p, fmt.Sprintf("Default profile for %s with %s: datasheet peaks x typical published efficiencies, not fitted.\nGenerated by: %s\nReplace it with a fitted one: fleettwin profile fit.", hw.Name, *engine, p.Provenance.Command))
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(enc)
		return err
	}
	return atomicfile.WriteFile(*out, enc, 0o644)
}

func runProfileList(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("profile list", "profile list [--profile p.toml]", stderr)
	var profiles stringList
	fs.Var(&profiles, "profile", "extra profile TOML (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e, err := loadEnv(nil, profiles)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HARDWARE\tENGINE\tMETHOD\tCHUNK\tPREFILL EFF\tWEIGHT BW EFF\tSOURCE")
	for _, k := range sorted(e.profiles) {
		p := e.profiles[k]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.3f\t%.3f\t%s\n", p.Hardware, p.Engine, p.Provenance.Method, p.PrefillChunk,
			p.Coefficients.PrefillComputeEff, p.Coefficients.WeightBandwidthEff, p.Provenance.Source)
	}
	return tw.Flush()
}

// writeRows prints measured against predicted rates and the error summary.
func writeRows(w io.Writer, what string, rows []perf.FitRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ROW\tMEASURED\tPREDICTED\tERROR\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.2f %s\t%.2f %s\t%+.1f%%\t\n", r.ID, r.Measured, r.Unit, r.Predicted, r.Unit, r.ErrorPct)
	}
	tw.Flush()
	s := perf.Summarize(rows)
	fmt.Fprintf(w, "%s: %d rows · median |error| %.1f%% · mean |error| %.1f%% · max |error| %.1f%% (%s)\n",
		what, len(rows), s.MedianAbsPct, s.MeanAbsPct, s.MaxAbsPct, s.WorstID)
	if math.IsNaN(s.MedianAbsPct) {
		fmt.Fprintln(w, "no rows")
	}
}

// checkPrior scores prior p on the rows of file that name its hardware and
// engine, reproduced in the twin as `fleettwin validate` does, and records
// the error in its provenance: a prior stays a prior, now with a measured
// error ("prior: not fitted, median error X% on N published measurements").
func checkPrior(ctx context.Context, p *perf.Profile, cat *catalog.Catalog, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("profile prior --check: %w", err)
	}
	defer f.Close()
	rows, err := measure.Read(file, f)
	if err != nil {
		return err
	}
	var mine []measure.Row
	for _, r := range rows {
		if r.Hardware == p.Hardware && r.Engine == p.Engine {
			mine = append(mine, r)
		}
	}
	set := perf.ProfileSet{}
	set.Add(*p)
	res, err := validate.Reproduce(ctx, validate.Env{Catalog: cat, Profiles: set}, mine)
	if err != nil {
		return err
	}
	sum := validate.Summarize(res)
	if ran := sum.N - sum.Failed; ran > 0 {
		p.Provenance.SetHeldOut(ran, math.Round(100*sum.MedianAPE)/100, math.Round(100*sum.MaxAPE)/100, fmt.Sprintf("%d %s/%s rows of %s, not fitted on", ran, p.Hardware, p.Engine, filepath.ToSlash(file)))
	}
	return nil
}
