package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/sharefit"
)

// runProfileFitSharing is `fleettwin profile fit-sharing`: fits the MPS
// contention coefficients of a profile's [sharing] table to the published
// co-location cases of its hardware and engine (package sharefit: each
// case's unpublished load fitted to its dedicated figures, the
// coefficients to its ratios, with the simulator in the loop), and writes
// the profile back with the table, its standard errors and its source.
func runProfileFitSharing(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("profile fit-sharing", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "co-location ratios (colocation.csv: rows of kind colocated-ratio)")
	dedicated := fs.String("dedicated", "", "the cases' dedicated figures (colocation-dedicated.toml)")
	profile := fs.String("profile", "", "profile to fit the [sharing] table of")
	out := fs.String("out", "", "profile to write (may be --profile)")
	carry := fs.String("carry-from", "", "instead of fitting: copy this profile's fitted [sharing] table into --profile, labelled as carried")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fail := func(err error) error { return fmt.Errorf("profile fit-sharing: %w", err) }
	if *profile == "" || *out == "" || (*carry == "") == (*data == "" || *dedicated == "") {
		return usagef("profile fit-sharing: --profile, --out and either --data with --dedicated or --carry-from are required")
	}
	p, pb, err := readProfile(*profile)
	if err != nil {
		return fail(err)
	}
	if *carry != "" {
		donor, _, err := readProfile(*carry)
		if err != nil {
			return fail(err)
		}
		if donor.Sharing == nil || donor.Sharing.MPSMemoryContentionStdErr == 0 {
			return fail(fmt.Errorf("%s has no fitted [sharing] table to carry", *carry))
		}
		s := *donor.Sharing
		s.Source = fmt.Sprintf("carried from %s/%s (%s), not fitted on %s: %s", donor.Hardware, donor.Engine, *carry, p.Hardware, donor.Sharing.Source)
		p.Sharing = &s
		return writeSharing(p, pb, *out, args, stdout, fmt.Sprintf("%s: [sharing] carried from %s", *out, *carry))
	}
	rows, err := readRows(*data)
	if err != nil {
		return fail(err)
	}
	db, err := os.ReadFile(*dedicated)
	if err != nil {
		return fail(err)
	}
	ded, err := sharefit.ReadDedicated(*dedicated, db)
	if err != nil {
		return fail(err)
	}
	cases, err := sharefit.Cases(rows, ded)
	if err != nil {
		return fail(err)
	}
	var mine []sharefit.Case
	for _, c := range cases {
		if c.Hardware == p.Hardware && c.Engine == p.Engine {
			mine = append(mine, c)
		}
	}
	if len(mine) != 1 {
		return fail(fmt.Errorf("%s has %d co-location cases of %s on %s; the fit takes exactly one", *data, len(mine), p.Engine, p.Hardware))
	}
	r, err := sharefit.Fit(ctx, sharefit.Env{Catalog: catalog.Default(), Profile: p}, mine[0])
	if err != nil {
		return fail(err)
	}
	s := p.Sharing.OrDefault()
	s.MPSMemoryContention, s.MPSMemoryContentionStdErr = r.Memory, sig2(r.MemoryStdErr)
	s.MPSComputeContention, s.MPSComputeContentionStdErr = r.Compute, sig2(r.ComputeStdErr)
	s.Source = sharefit.Describe(r, *data)
	p.Sharing = &s
	return writeSharing(p, pb, *out, args, stdout, sharefit.Summary(r))
}

func readProfile(path string) (perf.Profile, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return perf.Profile{}, nil, err
	}
	p, err := perf.ParseProfile(path, b)
	return p, b, err
}

// writeSharing writes p to out with the header of the file it was read
// from (old) and a line saying how its [sharing] table was made.
func writeSharing(p perf.Profile, old []byte, out string, args []string, stdout io.Writer, summary string) error {
	enc, err := perf.EncodeProfile(p, headerOf(old)+"\n[sharing] by: fleettwin profile fit-sharing "+strings.Join(args, " "))
	if err != nil {
		return fmt.Errorf("profile fit-sharing: %w", err)
	}
	if err := atomicfile.WriteFile(out, enc, 0o644); err != nil {
		return fmt.Errorf("profile fit-sharing: %w", err)
	}
	fmt.Fprintln(stdout, summary)
	return nil
}

// sig2 rounds a standard error to two significant digits (+Inf stays).
func sig2(v float64) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 2, 64), 64)
	return r
}

// headerOf is the comment block a profile file starts with, without its
// "# " marks and without a [sharing] line a previous fit added, so that
// refitting writes the same file.
func headerOf(b []byte) string {
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		l = strings.TrimPrefix(strings.TrimPrefix(l, "#"), " ")
		if strings.HasPrefix(l, "[sharing] by:") {
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}
