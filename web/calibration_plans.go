package web

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// The calibration plans a dashboard may start by name are the regular
// files of one folder (serve --calibration-plans, default plans/): the
// dashboard never opens a path a request names.

// ExamplePlan is the shipped calibration that needs no GPU and no server
// of the user's: it serves random-weight models with the dashboard's
// Ollama (make run-ollama). The dashboard offers it first.
const ExamplePlan = "local-ollama.toml"

// calibrationPlans lists the plans of the plans folder: its .toml files
// but a plan's catalog entries (*.catalog.toml), ExamplePlan first, the
// rest sorted.
func (s *Server) calibrationPlans() []string {
	if s.CalibrationPlans == "" {
		return nil
	}
	entries, err := os.ReadDir(s.CalibrationPlans)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".toml") && !strings.HasSuffix(n, ".catalog.toml") && !strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == ExamplePlan:
			return -1
		case b == ExamplePlan:
			return 1
		}
		return strings.Compare(a, b)
	})
	return out
}

func (s *Server) plansHint() string {
	names := s.calibrationPlans()
	if len(names) == 0 {
		if s.CalibrationPlans == "" {
			return "none: the server has no calibration plans folder (serve --calibration-plans DIR)"
		}
		return "none in " + s.CalibrationPlans
	}
	return strings.Join(names, ", ")
}

// readPlanFile reads the plan called name from dir: a plain name (no
// separator, no "..", not hidden), a regular file (no device, FIFO or
// folder; a symlink only if it stays inside dir), at most
// tomlcheck.MaxBytes. Errors name the plan, never its contents.
func readPlanFile(dir, name string) ([]byte, error) {
	if dir == "" {
		return nil, fmt.Errorf("no calibration plan %q: the server has no calibration plans folder", name)
	}
	if name == "" || strings.ContainsAny(name, `/\`) || strings.Contains(name, "..") || strings.HasPrefix(name, ".") || strings.ContainsRune(name, 0) {
		return nil, fmt.Errorf("no calibration plan %q: give the name of a plan in the server's plans folder, not a path", name)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("calibration plans folder: %w", err)
	}
	defer root.Close()
	// Stat follows a symlink only while it stays inside the folder; what
	// it names must be a regular file before it is opened (opening a FIFO
	// would block until a writer came).
	fi, err := root.Stat(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no calibration plan %q in the plans folder", name)
		}
		return nil, fmt.Errorf("calibration plan %q: cannot be read from the plans folder", name)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("calibration plan %q: not a regular file", name)
	}
	if fi.Size() > tomlcheck.MaxBytes {
		return nil, fmt.Errorf("calibration plan %q: %d bytes; the limit is %d (1 MiB)", name, fi.Size(), tomlcheck.MaxBytes)
	}
	// O_NONBLOCK: a file swapped for a FIFO since the Stat opens at once
	// instead of waiting for a writer, and the Stat below refuses it.
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("calibration plan %q: cannot be opened", name)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("calibration plan %q: not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, tomlcheck.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("calibration plan %q: %w", name, err)
	}
	if len(data) > tomlcheck.MaxBytes {
		return nil, fmt.Errorf("calibration plan %q: larger than the limit of %d bytes (1 MiB)", name, tomlcheck.MaxBytes)
	}
	return data, nil
}
