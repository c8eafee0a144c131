package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/servefit"
)

// profileFitServing is `fleettwin profile fit-serving`: fits an engine's
// serving terms and step efficiencies on a device to the published serving
// rows of a measurement file, with the simulator in the loop, holding out
// every third experiment (servefit.HeldOut) and recording its error on
// them in the profile's provenance. --cross-validate also fits once per
// experiment with it left out (servefit.CrossValidate), prints each one's
// error and records the summary in [provenance.cross_validation].
//
// With --carry-from instead of --data it writes the device's datasheet
// prior carrying the donor profile's serving terms (front end, scheduler:
// CPU time, the same on any GPU) and says so in its provenance.
func runProfileFitServing(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("profile fit-serving", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "measurement file (testdata/published/MEASUREMENTS.md format)")
	carry := fs.String("carry-from", "", "instead of fitting: the prior of --hardware with this profile's [serving] terms")
	hw := fs.String("hardware", "", "catalog device")
	engine := fs.String("engine", "", "engine: vllm, sglang, tensorrt-llm (or trtllm)")
	date := fs.String("date", "", "date of the data (YYYY-MM-DD)")
	out := fs.String("out", "", "profile to write")
	sweeps := fs.Int("sweeps", 20, "passes of the coordinate search")
	formatsFrom := fs.String("formats-from", "", "profile of the same device whose fitted format factors (fp8_compute_rel, ...) to carry where this engine's data cannot set them")
	crossValidate := fs.Bool("cross-validate", false, "also fit once per experiment with it left out and print the error on each left-out experiment (one fit per experiment)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*data == "") == (*carry == "") || *hw == "" || *engine == "" || *out == "" {
		return usagef("profile fit-serving: --hardware, --engine, --out and one of --data or --carry-from are required")
	}
	eng := perf.NormalizeEngine(*engine)
	if *carry != "" && *crossValidate {
		return usagef("profile fit-serving: --cross-validate needs --data: a carried prior fits nothing")
	}
	if *carry != "" {
		return carryServing(*carry, *hw, eng, *out, args)
	}
	rows, err := readRows(*data)
	if err != nil {
		return fmt.Errorf("profile fit-serving: %w", err)
	}
	fit, held, skipped := servefit.Split(rows, *hw, eng)
	if len(fit) == 0 {
		return fmt.Errorf("profile fit-serving: no usable %s rows on %s in %s", eng, *hw, *data)
	}
	cat := catalog.Default()
	p := perf.Prior(*hw, eng)
	dev, err := cat.HardwareNamed(*hw)
	if err != nil {
		return fmt.Errorf("profile fit-serving: %w", err)
	}
	if d, ok := perf.DefaultsFor(eng, dev.Name, dev.MemoryGiB); ok {
		p.PrefillChunk, p.MemoryFraction = d.MaxBatchedTokens, d.MemoryFraction
	}
	p.Serving = &perf.Serving{RequestS: 0.02, FrontendRPS: 50, StepS: 1e-3, StepPerSeqS: 1e-5}
	if eng == "sglang" {
		p.Serving.Policy = perf.PolicyPrefillFirst
	}
	donor, err := formatDonor(*formatsFrom, dev.Name)
	if err != nil {
		return fmt.Errorf("profile fit-serving: %w", err)
	}
	start := p // the fit's start, for the cross-validation's fits
	p, score, err := servefit.Fit(ctx, cat, p, fit, *sweeps)
	if err != nil {
		return fmt.Errorf("profile fit-serving: %w", err)
	}
	var sources, heldIDs []string
	for _, e := range fit {
		for _, r := range e.Rows {
			sources = append(sources, r.Source)
		}
	}
	for _, e := range held {
		for _, r := range e.Rows {
			heldIDs = append(heldIDs, r.ID)
		}
	}
	carried, donorName, err := carryFormats(ctx, cat, &p, &score, fit, donor, *formatsFrom)
	if err != nil {
		return fmt.Errorf("profile fit-serving: %w", err)
	}
	hs, err := servefit.Evaluate(ctx, cat, p, held)
	if err != nil {
		return fmt.Errorf("profile fit-serving: held out: %w", err)
	}
	p.Rows = score.Results
	p.Provenance = perf.Provenance{Method: perf.MethodFit,
		Source:  "published serving measurements (" + *data + "), simulator in the loop (package servefit)",
		Command: strings.Join(append([]string{"fleettwin profile fit-serving"}, args...), " "),
		Fitted:  score.Fitted,
		HeldOut: heldIDs,
		Notes: fmt.Sprintf("fitted on %d experiments (%d rows of means and aggregates), median error %.1f%%; every third experiment held out; "+
			"rows not used: speculative decoding, tensor parallelism and non-default attention backends (%d rows)", len(fit), score.Rows, score.MedianAPE, len(skipped))}
	for _, name := range carried {
		if p.Provenance.Carried == nil {
			p.Provenance.Carried = map[string]string{}
		}
		p.Provenance.Carried[name] = donorName
		p.Provenance.Notes += fmt.Sprintf("; %s carried from %s, whose fit set it: this engine's measurements do not", name, donorName)
	}
	if len(score.Held) > 0 {
		p.Provenance.Notes += "; held at the datasheet prior, not identified by these experiments (the search put them on a bound of their range): " + strings.Join(score.Held, ", ")
	}
	p.Provenance.SetFit(score.Rows, sources, *date, *data)
	p.Provenance.SetHeldOut(hs.Rows, round1(hs.MedianAPE), round1(hs.MaxAPE), *data+" (held-out experiments: "+fmt.Sprint(len(held))+")")
	var cv *servefit.CrossValidation
	if *crossValidate {
		prog := newProgress(stderr, *quiet)
		prog.start("profile fit-serving: cross-validation")
		c, err := servefit.CrossValidate(ctx, cat, start, append(fit, held...), *sweeps, func(done, total int) {
			prog.update(float64(done), float64(total), "fits")
		})
		prog.end()
		if err != nil {
			return fmt.Errorf("profile fit-serving: cross-validation: %w", err)
		}
		cv = &c
		p.Provenance.CrossValidation = &perf.CrossCheck{Experiments: c.Experiments, Rows: c.Rows,
			MedianAPE: round1(c.MedianAPE), MaxAPE: round1(c.MaxAPE), MaxRow: c.MaxRow}
	}
	header := fmt.Sprintf("Fitted profile for %s with %s: serving terms and step efficiencies fitted to published serving measurements.\nGenerated by: fleettwin profile fit-serving %s", *hw, eng, strings.Join(args, " "))
	b, err := perf.EncodeProfile(p, header)
	if err != nil {
		return fmt.Errorf("profile fit-serving: %w", err)
	}
	if err := atomicfile.WriteFile(*out, b, 0o644); err != nil {
		return fmt.Errorf("profile fit-serving: %w", err)
	}
	fmt.Fprintf(stdout, "%s: fitted on %d rows (median error %.1f%%), held out %d rows: median %.1f%%, max %.1f%%\n",
		*out, score.Rows, score.MedianAPE, hs.Rows, hs.MedianAPE, hs.MaxAPE)
	if cv != nil {
		writeCrossValidation(stdout, *cv)
	}
	return nil
}

// writeCrossValidation prints each left-out experiment's error and the
// summary line.
func writeCrossValidation(w io.Writer, cv servefit.CrossValidation) {
	for _, e := range cv.PerExperiment {
		fmt.Fprintf(w, "  left out %-48s %2d rows, median %.1f%%\n", e.ID, e.Rows, e.MedianAPE)
	}
	fmt.Fprintf(w, "cross-validation: %d experiments left out in turn: %d rows, median %.1f%%, max %.1f%% (%s)\n",
		cv.Experiments, cv.Rows, cv.MedianAPE, cv.MaxAPE, cv.MaxRow)
}

func round1(v float64) float64 { return float64(int(v*10+0.5)) / 10 }

// carryServing writes hw's prior for engine with the [serving] terms of
// the profile at from.
func carryServing(from, hw, engine, out string, args []string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("profile fit-serving: %w", err)
	}
	donor, err := perf.ParseProfile(from, b)
	if err != nil {
		return fmt.Errorf("profile fit-serving: %w", err)
	}
	if donor.Serving == nil || donor.Engine != engine {
		return fmt.Errorf("profile fit-serving: %s has no [serving] terms for %s", from, engine)
	}
	dev, err := catalog.Default().HardwareNamed(hw)
	if err != nil {
		return usageError{err.Error()}
	}
	p := perf.Prior(dev.Name, engine)
	if d, ok := perf.DefaultsFor(engine, dev.Name, dev.MemoryGiB); ok {
		p.PrefillChunk, p.MemoryFraction = d.MaxBatchedTokens, d.MemoryFraction
	}
	sv := *donor.Serving
	p.Serving = &sv
	p.Provenance.Method, p.Provenance.CarriedFrom = perf.MethodCarried, donor.Hardware
	p.Provenance.Command = strings.Join(append([]string{"fleettwin profile fit-serving"}, args...), " ")
	p.Provenance.Notes = fmt.Sprintf("step coefficients: datasheet prior, not fitted; [serving] terms (front end, scheduler CPU time: hardware-independent) carried from %s/%s (%s), fitted there on published measurements", donor.Hardware, donor.Engine, from)
	header := fmt.Sprintf("Default profile for %s with %s: datasheet peaks x typical published efficiencies, not fitted;\nserving terms carried from %s.\nGenerated by: %s", dev.Name, engine, from, p.Provenance.Command)
	enc, err := perf.EncodeProfile(p, header)
	if err != nil {
		return fmt.Errorf("profile fit-serving: %w", err)
	}
	return atomicfile.WriteFile(out, enc, 0o644)
}

// readRows reads a measurement file (testdata/published/MEASUREMENTS.md).
func readRows(path string) ([]measure.Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return measure.Read(path, f)
}

// formatDonor reads the --formats-from profile at path, which must be
// for device hw; nil for an empty path.
func formatDonor(path, hw string) (*perf.Profile, error) {
	if path == "" {
		return nil, nil
	}
	donor, _, err := readProfile(path)
	if err != nil {
		return nil, fmt.Errorf("--formats-from: %w", err)
	}
	if donor.Hardware != hw {
		return nil, fmt.Errorf("--formats-from %s: a profile for %s, not %s", path, donor.Hardware, hw)
	}
	return &donor, nil
}

// carryFormats copies into p the fitted format factors of donor (read
// from path; perf.Coefficients.CarryRels) and, where it carried any,
// scores p on fit again so its rows are its predictions. It returns the
// names carried and the donor in words. A nil donor carries nothing.
func carryFormats(ctx context.Context, cat *catalog.Catalog, p *perf.Profile, score *servefit.Score, fit []servefit.Experiment, donor *perf.Profile, path string) ([]string, string, error) {
	if donor == nil {
		return nil, "", nil
	}
	carried := p.Coefficients.CarryRels(donor.Coefficients, score.Fitted, donor.Provenance.Fitted)
	if len(carried) > 0 {
		s, err := servefit.Evaluate(ctx, cat, *p, fit)
		if err != nil {
			return nil, "", err
		}
		s.Fitted, s.Held = score.Fitted, score.Held
		*score = s
	}
	return carried, fmt.Sprintf("%s/%s (%s)", donor.Hardware, donor.Engine, path), nil
}
