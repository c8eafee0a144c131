package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/validate"
)

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", "validate FILE.csv... [--json out.json] [--catalog f] [--profile f] [--quiet] [--max-median PCT] [--max-row PCT] [--scenarios DIR]", stderr)
	jsonOut := fs.String("json", "", "write the rows and the summary as JSON here (atomically)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	scenarios := fs.String("scenarios", "", "also write each serving experiment's generated scenario (and trace) here, for `fleettwin simulate`")
	maxMedian := fs.Float64("max-median", 0, "fail when the median absolute error of the rows run is above this percentage (0: no bar)")
	maxRow := fs.Float64("max-row", 0, "fail when any row run is off by more than this percentage (0: no bar)")
	var catalogs, profiles stringList
	fs.Var(&catalogs, "catalog", "extra catalog TOML (repeatable)")
	fs.Var(&profiles, "profile", "profile TOML to use instead of the built-in one for its (hardware, engine) (repeatable)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("name at least one measurement CSV (format: testdata/published/MEASUREMENTS.md)")
	}
	for _, b := range []struct {
		name string
		v    float64
	}{{"--max-median", *maxMedian}, {"--max-row", *maxRow}} {
		if !(b.v >= 0) || math.IsInf(b.v, 0) {
			return usagef("%s must be a percentage of at least 0 (0: no bar), got %v", b.name, b.v)
		}
	}
	var rows []measure.Row
	for _, path := range files {
		rs, err := readMeasurements(path)
		if err != nil {
			return err
		}
		rows = append(rows, rs...)
	}
	e, err := loadEnv(catalogs, profiles)
	if err != nil {
		return err
	}
	prog := newProgress(stderr, *quiet)
	prog.start("validate")
	env := validate.Env{Catalog: e.cat, Profiles: e.profiles, Progress: func(done, total int) {
		prog.update(float64(done), float64(total), "experiments")
	}}
	x := validate.Prepare(rows)
	if *scenarios != "" {
		ex, err := x.Export(env, *scenarios)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "validate: %d scenario(s) written to %s\n", len(ex), *scenarios)
	}
	res, err := x.Reproduce(ctx, env)
	prog.end()
	if err != nil {
		return err
	}
	sum := validate.Summarize(res)
	writeValidateTable(stdout, res)
	writeValidateGroups(stdout, res)
	var errs []error
	if *jsonOut != "" {
		errs = append(errs, writeJSON(*jsonOut, validateJSON(res, sum)))
	}
	fmt.Fprintf(stdout, "validate: n=%d failed=%d median APE %s max APE %s\n", sum.N, sum.Failed, valPct(sum.MedianAPE), valPct(sum.MaxAPE))
	if *maxMedian > 0 && !(sum.MedianAPE <= *maxMedian) {
		errs = append(errs, fmt.Errorf("median APE %s is above the bar of %g%%", valPct(sum.MedianAPE), *maxMedian))
	}
	if *maxRow > 0 && !(sum.MaxAPE <= *maxRow) {
		errs = append(errs, fmt.Errorf("max APE %s (row %s) is above the bar of %g%%", valPct(sum.MaxAPE), sum.WorstID, *maxRow))
	}
	return errors.Join(errs...)
}

// readMeasurements reads one measurement CSV.
func readMeasurements(path string) ([]measure.Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read measurements: %w", err)
	}
	defer f.Close()
	return measure.Read(path, f)
}

// writeValidateTable prints one line per row: what was measured, the
// published and predicted figures and the error, or why it was not run;
// then a note per row run on a weight format whose efficiency the
// profile's fit did not set, and one per prior profile rows ran on.
func writeValidateTable(w io.Writer, res []validate.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tengine\thardware\tmodel\tmetric\tpublished\tpredicted\terror")
	for _, r := range res {
		if !r.Ran() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t-\tnot run: %v\n", r.ID, r.Engine, r.Hardware, r.Model, r.Metric, valNum(r.Value), r.Err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%+.1f%%\n", r.ID, r.Engine, r.Hardware, r.Model, r.Metric, valNum(r.Value), valNum(r.Predicted), r.ErrorPct())
	}
	tw.Flush()
	var profiles []string // prior profiles' lines, in the order of their first rows
	rows := map[string]int{}
	for _, r := range res {
		b := r.Basis
		if len(b.FormatPriors) > 0 && !b.ProfilePrior {
			fmt.Fprintf(w, "note: %s rests on a format prior: %s\n", r.ID, strings.Join(b.FormatPriors, "; "))
		}
		if b.ProfilePrior {
			if rows[b.Label] == 0 {
				profiles = append(profiles, b.Label)
			}
			rows[b.Label]++
		}
	}
	for _, l := range profiles {
		fmt.Fprintf(w, "note: %d row(s) rest on a prior profile: %s\n", rows[l], l)
	}
}

// validateGroup is the error of one engine and device's rows.
type validateGroup struct {
	Engine    string  `json:"engine"`
	Hardware  string  `json:"hardware"`
	Rows      int     `json:"rows"`
	Run       int     `json:"run"`
	MedianAPE float64 `json:"median_ape_pct"`
	MaxAPE    float64 `json:"max_ape_pct"`
	// Profile is "fitted", "prior", "fitted and prior" (rows on both)
	// or "-" (no row ran).
	Profile string `json:"profile"`
}

// validateGroups sums the results per engine and device, in the order of
// each pair's first row, with whether its rows ran on a fitted profile or
// a prior: where the twin stands, engine by engine.
func validateGroups(res []validate.Result) []validateGroup {
	type acc struct {
		rows          []validate.Result
		prior, fitted int
	}
	var keys [][2]string
	by := map[[2]string]*acc{}
	for _, r := range res {
		k := [2]string{r.Engine, r.Hardware}
		a := by[k]
		if a == nil {
			a = &acc{}
			by[k] = a
			keys = append(keys, k)
		}
		a.rows = append(a.rows, r)
		switch {
		case !r.Ran():
		case r.Basis.ProfilePrior:
			a.prior++
		default:
			a.fitted++
		}
	}
	out := make([]validateGroup, len(keys))
	for i, k := range keys {
		a := by[k]
		s := validate.Summarize(a.rows)
		basis := "fitted"
		switch {
		case a.prior > 0 && a.fitted > 0:
			basis = "fitted and prior"
		case a.prior > 0:
			basis = "prior"
		case a.fitted == 0:
			basis = "-"
		}
		out[i] = validateGroup{Engine: k[0], Hardware: k[1], Rows: s.N, Run: s.N - s.Failed, MedianAPE: s.MedianAPE, MaxAPE: s.MaxAPE, Profile: basis}
	}
	return out
}

// writeValidateGroups prints validateGroups as a table.
func writeValidateGroups(w io.Writer, res []validate.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENGINE\tHARDWARE\tROWS\tRUN\tMEDIAN APE\tMAX APE\tPROFILE")
	for _, g := range validateGroups(res) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", g.Engine, g.Hardware, g.Rows, g.Run, valPct(g.MedianAPE), valPct(g.MaxAPE), g.Profile)
	}
	tw.Flush()
}

// valNum writes a figure with four significant digits, without an exponent.
func valNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	d := 3
	for a := math.Abs(v); a >= 10 && d > 0; a /= 10 {
		d--
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}

func valPct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "%"
}

// validateRow is one row of `validate --json`.
type validateRow struct {
	ID        string  `json:"id"`
	File      string  `json:"file"`
	Line      int     `json:"line"`
	Hardware  string  `json:"hardware"`
	Engine    string  `json:"engine"`
	Model     string  `json:"model"`
	Quant     string  `json:"quant"`
	Kind      string  `json:"kind"`
	Metric    string  `json:"metric"`
	Unit      string  `json:"unit"`
	Published float64 `json:"published"`
	Predicted float64 `json:"predicted"` // null when not run
	ErrorPct  float64 `json:"error_pct"` // signed; null when not run
	NotRun    string  `json:"not_run,omitempty"`
	Source    string  `json:"source"`
	// Provenance is the step model's provenance line for the row's
	// instance (validate.Basis); Prior is true when the profile or one
	// of the FormatPriors is a prior. Empty and false when not run.
	Provenance   string   `json:"provenance,omitempty"`
	FormatPriors []string `json:"format_priors,omitempty"`
	Prior        bool     `json:"prior"`
}

type validateSummary struct {
	N         int     `json:"n"`
	Failed    int     `json:"failed"`
	MedianAPE float64 `json:"median_ape_pct"`
	MaxAPE    float64 `json:"max_ape_pct"`
	WorstID   string  `json:"worst_id,omitempty"`
}

func validateJSON(res []validate.Result, s validate.Summary) any {
	rows := make([]validateRow, len(res))
	for i, r := range res {
		rows[i] = validateRow{ID: r.ID, File: r.File, Line: r.Line, Hardware: r.Hardware, Engine: r.Engine, Model: r.Model,
			Quant: r.Quant, Kind: string(r.Kind), Metric: string(r.Metric), Unit: r.Unit, Published: r.Value,
			Predicted: r.Predicted, ErrorPct: r.ErrorPct(), Source: r.Source,
			Provenance: r.Basis.Label, FormatPriors: r.Basis.FormatPriors, Prior: r.Basis.Prior()}
		if r.Err != nil {
			rows[i].NotRun = r.Err.Error()
		}
	}
	return struct {
		Rows    []validateRow   `json:"rows"`
		Groups  []validateGroup `json:"groups"`
		Summary validateSummary `json:"summary"`
	}{rows, validateGroups(res), validateSummary{N: s.N, Failed: s.Failed, MedianAPE: s.MedianAPE, MaxAPE: s.MaxAPE, WorstID: s.WorstID}}
}
