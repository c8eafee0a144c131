package validate

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/scenario"
)

// Exported is one serving experiment's generated scenario written out by
// Export: the experiment's first row and the files written for it.
type Exported struct {
	ID       string // the experiment's first row
	Scenario string // its scenario file
	Trace    string // its trace ("" for a closed loop)
}

// Export writes the scenario of every serving experiment that can be run
// into dir, as `fleettwin simulate` reads it: <id>.toml (the span that
// Reproduce starts with) and, for a burst or a Poisson stream, its trace
// <id>.requests.csv beside it (a seed above TOML's integers is written with
// its top bit cleared, which changes only a closed loop's draws), so that a row's run can be looked at
// request by request (simulate --requests) or rerun with other settings.
// Bench rows have no scenario; experiments that cannot be run are skipped
// and Reproduce says why. The files are written atomically.
func (x *Experiments) Export(env Env, dir string) ([]Exported, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("export scenarios: %w", err)
	}
	var out []Exported
	for g, idx := range x.groups {
		r, pl := &x.rows[idx[0]], &x.plans[g]
		if !r.Kind.Serving() || pl.err != nil {
			continue
		}
		span, err := estimateSpan(env, r)
		if err != nil {
			continue
		}
		f := *pl.file
		if err := onNodeType(env.Catalog, r, &f); err != nil {
			continue
		}
		f.DurationS = span
		// TOML's integers stop at 2^63 - 1. A burst's or a Poisson
		// stream's lengths are in its trace, drawn from the full seed; only
		// a closed loop's draws differ from Reproduce's with the top bit off.
		f.Seed &= math.MaxInt64
		e := Exported{ID: r.ID, Scenario: filepath.Join(dir, fileName(r.ID)+".toml")}
		if tr, ok := pl.files[traceFile]; ok {
			e.Trace = filepath.Join(dir, fileName(r.ID)+".requests.csv")
			m := f.Models[servedName]
			m.Workload.Arrival.Trace = filepath.Base(e.Trace)
			f.Models = map[string]scenario.ServedModel{servedName: m}
			if err := atomicfile.WriteFile(e.Trace, tr.Data, 0o644); err != nil {
				return out, fmt.Errorf("export %s: %w", r.ID, err)
			}
		}
		b, err := f.Encode()
		if err != nil {
			return out, fmt.Errorf("export %s: %w", r.ID, err)
		}
		if err := atomicfile.WriteFile(e.Scenario, b, 0o644); err != nil {
			return out, fmt.Errorf("export %s: %w", r.ID, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// fileName is id with anything but letters, digits, '-', '_' and '.'
// replaced, so that a row id cannot name a path outside the folder.
func fileName(id string) string {
	s := strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			return c
		}
		return '_'
	}, id)
	if strings.Trim(s, ".") == "" {
		return "row"
	}
	return s
}
