package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/report"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/twin"
	"github.com/fleettwin/fleettwin/verdict"
)

func runReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", "report result.json --out report.html [--scenario scenario.toml] [--baseline baseline.json]   (from fleettwin plan --json or simulate --json)", stderr)
	out := fs.String("out", "", "write the HTML report to this file (default: stdout)")
	scFile := fs.String("scenario", "", "the simulation's scenario: its SLO targets, so the verdict names the metric that misses")
	baseFile := fs.String("baseline", "", "a baseline's simulate --json: the verdict compares the cost with it (judged on the same SLOs)")
	var catalogs, profiles stringList
	fs.Var(&catalogs, "catalog", "extra catalog TOML (repeatable, with --scenario)")
	fs.Var(&profiles, "profile", "extra profile TOML (repeatable, with --scenario)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("want exactly one JSON result, got %d", len(files))
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var opt report.Options
	if *scFile != "" {
		e, err := loadEnv(catalogs, profiles)
		if err != nil {
			return err
		}
		sc, err := scenario.Load(*scFile, e.cat, e.profiles)
		if err != nil {
			return err
		}
		opt.SLOs = verdict.SLOs(sc)
	}
	if *baseFile != "" {
		b, err := os.ReadFile(*baseFile)
		if err != nil {
			return fmt.Errorf("report: --baseline: %w", err)
		}
		var base twin.Simulation
		if err := json.Unmarshal(b, &base); err != nil || base.Result == nil || base.Scenario == "" {
			return fmt.Errorf("report: --baseline %s: not a simulation (fleettwin simulate --json): %v", *baseFile, err)
		}
		opt.Baseline = &verdict.Run{Sim: &base, SLOs: opt.SLOs}
	}
	if *out == "" {
		return report.Render(stdout, data, opt)
	}
	if err := atomicfile.Write(*out, 0o644, func(w io.Writer) error { return report.Render(w, data, opt) }); err != nil {
		return fmt.Errorf("report %s: %w", files[0], err)
	}
	return nil
}
