package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/servefit"
)

// runProfileFitSpeculative is `fleettwin profile fit-speculative`: fits the
// [speculative] table of a profile (perf.SpeculativeCoefficients: head_cost,
// round_s) to the published serving runs with speculative decoding of its
// hardware and engine, with the simulator in the loop (servefit.
// FitSpeculative), holding out every third experiment (servefit.HeldOut),
// and writes the profile back with the table, its standard errors and a
// source that names both errors. The rest of the profile is left as it is.
func runProfileFitSpeculative(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("profile fit-speculative", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "measurement file (testdata/published/MEASUREMENTS.md format)")
	profile := fs.String("profile", "", "profile to fit the [speculative] table of")
	out := fs.String("out", "", "profile to write (may be --profile)")
	sweeps := fs.Int("sweeps", 20, "passes of the coordinate search")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fail := func(err error) error { return fmt.Errorf("profile fit-speculative: %w", err) }
	if *data == "" || *profile == "" || *out == "" {
		return usagef("profile fit-speculative: --data, --profile and --out are required")
	}
	p, pb, err := readProfile(*profile)
	if err != nil {
		return fail(err)
	}
	rows, err := readRows(*data)
	if err != nil {
		return fail(err)
	}
	fitted, held, skipped := servefit.SplitSpeculative(rows, p.Hardware, p.Engine)
	if len(fitted) == 0 {
		return fail(fmt.Errorf("no usable speculative %s rows on %s in %s (skipped: %d)", p.Engine, p.Hardware, *data, len(skipped)))
	}
	cat := catalog.Default()
	r, err := servefit.FitSpeculative(ctx, cat, p, fitted, *sweeps)
	if err != nil {
		return fail(err)
	}
	hs, err := servefit.EvaluateSpeculative(ctx, cat, r.Profile, held)
	if err != nil {
		return fail(fmt.Errorf("held out: %w", err))
	}
	q := r.Profile
	sc := *q.Speculative
	sc.HeadCostStdErr, sc.RoundSStdErr = sig2(r.HeadCostStdErr), sig2(r.RoundSStdErr)
	sc.Source = servefit.DescribeSpeculative(r, hs, fitted, held, *data)
	q.Speculative = &sc
	enc, err := perf.EncodeProfile(q, specHeader(pb)+"\n[speculative] by: fleettwin profile fit-speculative "+strings.Join(args, " "))
	if err != nil {
		return fail(err)
	}
	if err := atomicfile.WriteFile(*out, enc, 0o644); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "%s: head_cost %.4g ± %.2g layers, round_s %.4g ± %.2g s; fitted on %d experiments (%d rows): median %.1f%%, max %.1f%%; held out %d experiments (%d rows): median %.1f%%, max %.1f%%\n",
		*out, sc.HeadCost, sc.HeadCostStdErr, sc.RoundS, sc.RoundSStdErr, len(fitted), r.Score.Rows, r.Score.MedianAPE, r.Score.MaxAPE,
		len(held), hs.Rows, hs.MedianAPE, hs.MaxAPE)
	return nil
}

// specHeader is the comment block the profile starts with, without its
// "# " marks and without a line a previous fit-speculative added, so that
// refitting writes the same file (the [sharing] line stays: unlike
// headerOf, which drops it for fit-sharing to write anew).
func specHeader(b []byte) string {
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		l = strings.TrimPrefix(strings.TrimPrefix(l, "#"), " ")
		if !strings.HasPrefix(l, "[speculative] by:") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
