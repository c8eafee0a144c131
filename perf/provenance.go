package perf

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// The methods a profile's numbers can come from (Provenance.Method).
const (
	// MethodFit: `fleettwin profile fit` on published measurements.
	MethodFit = "fit"
	// MethodCalibration: `fleettwin calibrate fit` on a run of our own.
	MethodCalibration = "calibration"
	// MethodDatasheet: perf.Prior, catalog peaks times typical
	// efficiencies; nothing was fitted.
	MethodDatasheet = "datasheet"
	// MethodCarried: the engine's hardware-independent terms fitted on
	// another device (Provenance.CarriedFrom), the device terms from the
	// datasheet. Still a prior for this device until checked on it.
	MethodCarried = "carried"
)

// Provenance says where a profile's numbers come from: what they were
// fitted on and how far they are from measurements they were not fitted
// on, or that they are a prior. Every field after Notes is optional in
// files (profiles written before them still parse); the commands that
// write profiles fill them through SetFit and SetHeldOut, from the data
// and their flags, never from the clock.
type Provenance struct {
	Method  string   `toml:"method"`  // MethodFit, MethodCalibration, MethodDatasheet or MethodCarried
	Source  string   `toml:"source"`  // the data fitted, or the basis of the defaults
	Command string   `toml:"command"` // how to reproduce it
	Fitted  []string `toml:"fitted"`  // coefficients the fit set
	Notes   string   `toml:"notes"`
	// Calibration runs also record what was measured, when, and with what.
	Run      string            `toml:"run,omitempty"`
	Date     string            `toml:"date,omitempty"` // of the data fitted (YYYY-MM-DD)
	Versions map[string]string `toml:"versions,omitempty"`
	HeldOut  []string          `toml:"held_out,omitempty"` // experiments kept out of the fit
	// CarriedFrom is the device whose fit MethodCarried took the engine
	// terms from.
	CarriedFrom string `toml:"carried_from,omitempty"`
	// Carried are coefficients a fit took from another profile of the same
	// device because its own measurements cannot set them (the FP8 GEMM
	// efficiency of an engine fitted on bf16 runs only): name → where from,
	// "h100-sxm/tensorrt-llm (profiles/h100-sxm.tensorrt-llm.toml)".
	Carried map[string]string `toml:"carried,omitempty"`
	// FitRows is how many measurements the fit used (0: see Profile.Rows).
	FitRows int `toml:"fit_rows,omitzero"`
	// FitSources are where those measurements were published, sorted.
	FitSources []string `toml:"fit_sources,omitempty"`
	// FitData is the file the measurements were read from.
	FitData string `toml:"fit_data,omitempty"`
	// Check is the error on measurements the profile was NOT fitted on;
	// nil when nobody has scored it. A prior may carry one too: scored,
	// not fitted.
	Check *Check `toml:"check,omitempty"`
	// CrossValidation is the fit method's error with each experiment of
	// the fit data left out of a fit in turn and scored on it (package
	// servefit); nil where it was not run.
	CrossValidation *CrossCheck `toml:"cross_validation,omitempty"`
}

// CrossCheck is a fit's leave-one-experiment-out error: Experiments fits,
// each scored on the one experiment it left out.
type CrossCheck struct {
	Experiments int     `toml:"experiments" json:"experiments"`
	Rows        int     `toml:"rows" json:"rows"`                     // left-out rows scored
	MedianAPE   float64 `toml:"median_ape_pct" json:"median_ape_pct"` // median absolute % error
	MaxAPE      float64 `toml:"max_ape_pct" json:"max_ape_pct"`       // largest absolute % error
	MaxRow      string  `toml:"max_row" json:"max_row"`               // the row of MaxAPE
}

// Check is a profile's error on measurements it was not fitted on.
type Check struct {
	Rows      int     `toml:"rows" json:"rows"`                     // how many measurements
	MedianAPE float64 `toml:"median_ape_pct" json:"median_ape_pct"` // median absolute % error
	MaxAPE    float64 `toml:"max_ape_pct" json:"max_ape_pct"`       // largest absolute % error
	// Data is which file and rows, e.g. "testdata/validation.csv (h100-sxm vllm rows)".
	Data string `toml:"data" json:"data"`
}

// SetFit records what a fit used: rows measurements from sources (any
// order, duplicates dropped), published or measured on date (YYYY-MM-DD,
// from the data or a flag; "" if unknown), read from the file data.
func (p *Provenance) SetFit(rows int, sources []string, date, data string) {
	p.FitRows = rows
	s := slices.Clone(sources)
	slices.Sort(s)
	p.FitSources = slices.Compact(s)
	p.Date = date
	p.FitData = data
}

// SetHeldOut records the error on n measurements not fitted on: the
// median and largest absolute percentage error, and what they were (file
// and rows). n = 0 clears it.
func (p *Provenance) SetHeldOut(n int, medianAPE, maxAPE float64, what string) {
	if n <= 0 {
		p.Check = nil
		return
	}
	p.Check = &Check{Rows: n, MedianAPE: math.Abs(medianAPE), MaxAPE: math.Abs(maxAPE), Data: what}
}

// IsPrior reports whether the numbers rest on a prior: nothing was fitted
// to measurements (a datasheet profile, or one that records no method).
func (p Provenance) IsPrior() bool {
	return p.Method != MethodFit && p.Method != MethodCalibration
}

// Summary is the provenance in words, without the pair: "fitted on 16
// published measurements (not yet checked on others)", "prior: not
// validated". fitRows is used when FitRows is 0 (older fitted profiles
// count their rows in Profile.Rows).
func (p Provenance) Summary(fitRows int) string {
	if p.FitRows > 0 {
		fitRows = p.FitRows
	}
	if p.IsPrior() {
		return p.priorSummary()
	}
	s := p.fittedOn(fitRows)
	if p.Check == nil {
		return s + " (not yet checked on others)"
	}
	s = fmt.Sprintf("%s, median error %s on %s, max %s", s, pct(p.Check.MedianAPE), others(p.Check.Rows), pct(p.Check.MaxAPE))
	if cv := p.CrossValidation; cv != nil {
		s += fmt.Sprintf("; %s on %d experiments each left out in turn, max %s", pct(cv.MedianAPE), cv.Experiments, pct(cv.MaxAPE))
	}
	return s
}

// priorSummary says what a prior rests on, and its error where it was
// scored.
func (p Provenance) priorSummary() string {
	s := "prior"
	if p.Method == MethodCarried {
		s = "prior: engine terms carried from the " + p.CarriedFrom + " fit, device terms from the datasheet"
	}
	if p.Check == nil {
		return s + ": not validated"
	}
	return fmt.Sprintf("%s: not fitted, median error %s on %s, max %s",
		s, pct(p.Check.MedianAPE), measurements(p.Check.Rows, "published "), pct(p.Check.MaxAPE))
}

// fittedOn says what a fitted profile was fitted on.
func (p Provenance) fittedOn(rows int) string {
	if p.Method == MethodCalibration {
		s := "calibrated on run " + p.Run
		if rows > 0 {
			s = fmt.Sprintf("calibrated on %s of run %s", measurements(rows, ""), p.Run)
		}
		return s
	}
	if rows == 0 {
		return "fitted on published measurements"
	}
	return "fitted on " + measurements(rows, "published ")
}

// Label is the one line outputs show next to numbers resting on the
// profile: "vllm on h100-sxm: fitted on 27 published measurements, median
// error 6% on 19 others, max 14%", "vllm on l40s: prior: not validated".
func (p Profile) Label() string {
	return p.Engine + " on " + p.Hardware + ": " + p.Provenance.Summary(len(p.Rows))
}

// ProvenanceInfo is a profile's provenance as outputs' JSON carries it.
type ProvenanceInfo struct {
	Hardware string `json:"hardware"`
	Engine   string `json:"engine"`
	Method   string `json:"method"`
	Prior    bool   `json:"prior"`
	Label    string `json:"label"`
	Source   string `json:"source"`
	// FitRows is how many measurements the fit used (0 for a prior).
	FitRows    int      `json:"fit_rows"`
	FitSources []string `json:"fit_sources,omitempty"`
	Date       string   `json:"date,omitempty"`
	Check      *Check   `json:"check,omitempty"`
	// CrossValidation is the fit's leave-one-experiment-out error.
	CrossValidation *CrossCheck `json:"cross_validation,omitempty"`
	// FormatPriors are the weight formats of the instances a result ran
	// that rest on a prior or a carried factor under this profile
	// (Profile.FormatPriors, in words); set by whoever knows the instances
	// (twin.Profiles), empty from Info.
	FormatPriors []string `json:"format_priors,omitempty"`
}

// Info returns the profile's provenance for JSON outputs.
func (p Profile) Info() ProvenanceInfo {
	rows := p.Provenance.FitRows
	if rows == 0 && !p.Provenance.IsPrior() {
		rows = len(p.Rows)
	}
	return ProvenanceInfo{
		Hardware: p.Hardware, Engine: p.Engine, Method: p.Provenance.Method,
		Prior: p.Provenance.IsPrior(), Label: p.Label(), Source: p.Provenance.Source,
		FitRows: rows, FitSources: p.Provenance.FitSources, Date: p.Provenance.Date,
		Check: p.Provenance.Check, CrossValidation: p.Provenance.CrossValidation,
	}
}

// measurements is "1 measurement" or "n <kind>measurements".
func measurements(n int, kind string) string {
	if n == 1 {
		return "1 " + kind + "measurement"
	}
	return strconv.Itoa(n) + " " + kind + "measurements"
}

// others is "1 other" or "n others".
func others(n int) string {
	if n == 1 {
		return "1 other"
	}
	return strconv.Itoa(n) + " others"
}

// pct formats a percentage: one decimal under 10, whole above.
func pct(v float64) string {
	if v < 10 {
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + "%"
	}
	return strconv.FormatFloat(math.Round(v), 'f', 0, 64) + "%"
}

// FitRow is one measurement a profile was fitted on, with the fit's error.
type FitRow struct {
	ID        string  `toml:"id"`
	Measured  float64 `toml:"measured"`
	Predicted float64 `toml:"predicted"`
	Unit      string  `toml:"unit"`
	ErrorPct  float64 `toml:"error_pct"`
}
