package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/fleettwin/fleettwin/calibrate"
	"github.com/fleettwin/fleettwin/calibrate/ollama"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/perf"
)

func runCalibrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	subs := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"run":   runCalibrateRun,
		"fit":   runCalibrateFit,
		"check": runCalibrateCheck,
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, `Usage: fleettwin calibrate <run|fit|check> [flags]

  run     measure the servers a plan names; everything lands in runs/<id>/
  fit     fit a profile (step model, interference, power, thermal) to a run
  check   replay a run's experiments through the simulator and compare
`)
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	sub, ok := subs[args[0]]
	if !ok {
		return usagef("unknown subcommand %q; valid: check, fit, run", args[0])
	}
	return sub(ctx, args[1:], stdout, stderr)
}

func runCalibrateRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("calibrate run", "calibrate run plan.toml [--runs DIR] | calibrate run --resume runs/<id>", stderr)
	var catalogs stringList
	runs := fs.String("runs", "runs", "directory the run directory is created in")
	resume := fs.String("resume", "", "run directory of a broken run to continue")
	ollamaBin := fs.String("ollama", "", `ollama binary serving the plan's url = "local" models (scripts/build-ollama.sh builds one)`)
	threads := fs.Int("threads", 1, "threads per locally served model (Ollama num_thread)")
	mpsControl := fs.String("mps-control", "", "the nvidia-cuda-mps-control a sharing = \"mps\" mode runs (default: the plan's mps_control, or that name on PATH)")
	fs.Var(&catalogs, "catalog", "extra catalog file (repeatable)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if (len(pos) == 1) == (*resume != "") {
		return usagef("give a plan file, or --resume with a run directory")
	}
	e, err := loadEnv(catalogs, nil)
	if err != nil {
		return err
	}
	var plan *calibrate.Plan
	var planData []byte
	if *resume != "" {
		plan, planData, err = calibrate.LoadRunPlan(*resume, e.cat)
	} else {
		plan, planData, err = calibrate.LoadPlan(pos[0], e.cat)
	}
	if err != nil {
		return err
	}
	var r *calibrate.Runner
	if *resume != "" {
		// Refuse a run another process is writing before serving models.
		r = &calibrate.Runner{Plan: plan, Dir: *resume, Progress: stderr}
		if err := r.Lock(); err != nil {
			return err
		}
	}
	for _, s := range plan.Servers {
		if s.Kind == calibrate.KindOllama && len(s.Command) == 0 && *ollamaBin == "" {
			return usagef(`server %s is kind = "ollama" with no command: pass --ollama with an Ollama binary`, s.Name)
		}
	}
	var srv *ollama.Server
	if local := localModels(plan); local > 0 {
		if *ollamaBin == "" {
			return usagef(`%d model(s) have url = "local": pass --ollama with an Ollama binary`, local)
		}
		srv, err = calibrate.ServeLocal(ctx, plan, e.cat, calibrate.LocalOptions{
			Bin: *ollamaBin, Dir: filepath.Join(*runs, ".ollama"), Threads: *threads, Log: stderr})
		if err != nil {
			return err
		}
		defer srv.Stop()
	}
	dir := *resume
	if dir == "" {
		// The plan is kept as written: "local" models are served afresh
		// on --resume; servers.json records the server each run used.
		versions := map[string]string{"fleettwin_go": runtime.Version()}
		if dir, err = calibrate.Start(*runs, plan, planData, versions); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "calibrate: run directory %s\n", dir)
	}
	if srv != nil {
		if _, err := calibrate.RecordServers(ctx, dir, srv, plan); err != nil {
			fmt.Fprintf(stderr, "calibrate: could not record server settings: %v\n", err)
		}
	}
	if r == nil {
		r = &calibrate.Runner{Plan: plan, Dir: dir, Progress: stderr}
	}
	// This command, and no other caller, starts the programs a plan's
	// [[servers]] name.
	r.Servers = &calibrate.ServerOptions{Catalog: e.cat, Ollama: *ollamaBin, MPSControl: *mpsControl}
	if err := r.Run(ctx); err != nil {
		return err
	}
	printServers(stdout, dir)
	fmt.Fprintf(stdout, "calibrate: done; next: fleettwin calibrate fit %s\n", dir)
	return nil
}

// printServers prints what servers.json says of the run's servers, if the
// run has one.
func printServers(w io.Writer, dir string) {
	recs, err := calibrate.ReadServers(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(w, "servers: %v\n", err)
		}
		return
	}
	for _, line := range recs.Summary() {
		fmt.Fprintln(w, line)
	}
}

func localModels(p *calibrate.Plan) int {
	n := 0
	for _, m := range p.Models {
		if m.URL == calibrate.Local {
			n++
		}
	}
	return n
}

func runCalibrateFit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("calibrate fit", "calibrate fit runs/<id> [--out profile.toml]", stderr)
	var catalogs stringList
	out := fs.String("out", "", "profile file to write (default runs/<id>/profile.toml)")
	chunk := fs.Int("chunk", 0, "the servers' step token budget (Ollama, llama.cpp: 512); 0 = the engine's default")
	fs.Var(&catalogs, "catalog", "extra catalog file (repeatable)")
	e, run, err := loadRun(fs, args, &catalogs)
	if err != nil {
		return err
	}
	p, rep, err := run.Fit(ctx, e.cat, calibrate.FitOptions{PrefillChunk: *chunk})
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(run.Dir, "profile.toml")
	}
	data, err := perf.EncodeProfile(p, fmt.Sprintf("Performance profile for %s with %s, fitted by calibration.\nGenerated by: fleettwin calibrate fit %s\nHeld out of the fit: %s", p.Hardware, p.Engine, run.Dir, strings.Join(p.Provenance.HeldOut, ", ")))
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(*out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fit: %d observations · median |error| %.1f%% · max %.1f%% (%s)\n", rep.Observations, rep.Step.MedianAbsPct, rep.Step.MaxAbsPct, rep.Step.WorstID)
	fmt.Fprintf(stdout, "interference %.4g · admission lag %.3g s\n", p.Interference, p.AdmissionLagS)
	if s := p.Sharing; s != nil {
		fmt.Fprintf(stdout, "sharing: mps_memory_contention %.4g ± %.2g · switch_s %.3g ± %.2g (time_slice_s %.3g): %s\n",
			s.MPSMemoryContention, s.MPSMemoryContentionStdErr, s.SwitchS, s.SwitchSStdErr, s.TimeSliceS, s.Source)
	}
	if p.Power != nil {
		fmt.Fprintf(stdout, "power: idle %.1f W + %.1f W at full activity (rmse %.2f W, %d samples)\n", p.Power.IdleW, p.Power.DynamicW, p.Power.RMSEW, p.Power.Samples)
	}
	if p.Thermal != nil {
		fmt.Fprintf(stdout, "thermal: R %.3g °C/W, C %.3g J/°C, ambient %.1f °C, tau %.0f s, throttle onset %.0f °C\n", p.Thermal.ResistanceCPerW, p.Thermal.CapacityJPerC, p.Thermal.AmbientC, p.Thermal.TimeConstantS, p.Thermal.ThrottleOnsetC)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	printServers(stdout, run.Dir)
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

func runCalibrateCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("calibrate check", "calibrate check runs/<id> --profile p.toml [--all] [--plot out.svg]", stderr)
	var catalogs stringList
	profile := fs.String("profile", "", "profile to check (default runs/<id>/profile.toml)")
	all := fs.Bool("all", false, "also compare the experiments the profile was fitted on")
	plot := fs.String("plot", "", "write a predicted-vs-measured scatter (.svg or .png)")
	fs.Var(&catalogs, "catalog", "extra catalog file (repeatable)")
	e, run, err := loadRun(fs, args, &catalogs)
	if err != nil {
		return err
	}
	if *profile == "" {
		*profile = filepath.Join(run.Dir, "profile.toml")
	}
	data, err := os.ReadFile(*profile)
	if err != nil {
		return fmt.Errorf("load profile: %w", err)
	}
	p, err := perf.ParseProfile(*profile, data)
	if err != nil {
		return err
	}
	var only *bool
	if !*all {
		held := true
		only = &held
	}
	cs, err := run.Compare(ctx, e.cat, p, only, calibrate.ReplayOptions{Dir: filepath.Join(run.Dir, "check")})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EXPERIMENT\tHELD OUT\tMODEL\tMETRIC\tMEASURED\tSIMULATED\tERROR")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%.4g\t%.4g\t%+.1f%%\n", c.Experiment, c.HeldOut, c.Model, c.Metric, c.Measured, c.Predicted, c.ErrorPct())
	}
	tw.Flush()
	for _, m := range []string{"ttft_p50", "tpot_p50", "e2e_p50", "output_tok_s"} {
		med, n := calibrate.MedianAbsErr(cs, m)
		if n > 0 && !math.IsNaN(med) {
			fmt.Fprintf(stdout, "median |error| %s: %.1f%% over %d", m, med, n)
			if rep, k := calibrate.Repeatability(cs, m); k > 0 {
				fmt.Fprintf(stdout, " (passes repeat within %.1f%% over %d)", rep, k)
			}
			fmt.Fprintln(stdout)
		}
	}
	printServers(stdout, run.Dir)
	if *plot != "" {
		format := strings.TrimPrefix(filepath.Ext(*plot), ".")
		if format != "svg" && format != "png" {
			return usagef("--plot: use a .svg or .png file name")
		}
		err := atomicfile.Write(*plot, 0o644, func(w io.Writer) error {
			return calibrate.Scatter(w, cs, "fleettwin calibrate check: "+run.State.ID, format)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", *plot)
	}
	return nil
}

// loadRun parses a command's flags and its one positional argument, a run
// directory, and loads the catalog and the run.
func loadRun(fs *flag.FlagSet, args []string, catalogs *stringList) (*env, *calibrate.Run, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) != 1 {
		return nil, nil, usagef("give one run directory")
	}
	e, err := loadEnv(*catalogs, nil)
	if err != nil {
		return nil, nil, err
	}
	run, err := calibrate.LoadRun(pos[0], e.cat)
	return e, run, err
}
