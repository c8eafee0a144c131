package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/report"
)

func runReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", "report result.json --out report.html   (from fleettwin plan --json or simulate --json)", stderr)
	out := fs.String("out", "", "write the HTML report to this file (default: stdout)")
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
	if *out == "" {
		return report.WriteHTML(stdout, data)
	}
	if err := atomicfile.Write(*out, 0o644, func(w io.Writer) error { return report.WriteHTML(w, data) }); err != nil {
		return fmt.Errorf("report %s: %w", files[0], err)
	}
	return nil
}
