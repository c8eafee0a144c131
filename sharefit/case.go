// Package sharefit fits the coefficients of how co-located instances share
// a device (perf.Sharing) to published co-location measurements, with the
// simulator in the loop.
//
// A published co-location case gives ratios, shared over dedicated, of
// metrics measured under a load it does not publish (colocation.csv's rows
// of kind colocated-ratio), and the dedicated configuration's absolute
// figures (colocation-dedicated.toml, copied from the same source). The fit
// goes in two steps: first the load (closed-loop clients per instance and
// prompt length) that makes one dedicated instance reproduce the absolute
// figures, then the sharing coefficient that makes two instances on one
// device reproduce the ratios at that load.
//
// It sits at floor 4 with servefit: it builds scenarios and runs sim.
package sharefit

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/scenario"
)

// Case is one published co-location measurement: Instances instances of
// one model sharing one device, against the same instances with a device
// each.
type Case struct {
	ID                    string // the rows' common id prefix
	Hardware, Engine      string
	Model, Quant, KVCache string
	Sharing               scenario.Sharing
	Instances             int
	SMPercent             float64 // MPS active thread percentage per instance; 0 uncapped
	MemFraction           float64 // memory share per instance when shared
	Ratios                map[measure.Metric]float64
	Sources               []string
	Dedicated             Dedicated
	RowIDs                []string
}

// Dedicated is the dedicated configuration's absolute figures, which fix the
// load the ratios were measured under.
type Dedicated struct {
	ID           string  `toml:"id"` // the Case it belongs to
	TPOTP50Ms    float64 `toml:"tpot_p50_ms"`
	TTFTP50Ms    float64 `toml:"ttft_p50_ms"`
	OutputTPS    float64 `toml:"output_tps"`
	RequestRPS   float64 `toml:"request_rps"`
	GPUMemUtil   float64 `toml:"gpu_mem_util"` // the dedicated instance's memory fraction
	Source       string  `toml:"source"`
	Notes        string  `toml:"notes"`
	OutputTokens int     `toml:"-"` // output_tps / request_rps, rounded
}

type dedicatedFile struct {
	Cases []Dedicated `toml:"cases"`
}

// ReadDedicated reads the dedicated figures (colocation-dedicated.toml).
func ReadDedicated(name string, data []byte) ([]Dedicated, error) {
	var f dedicatedFile
	md, err := tomlcheck.Decode(name, data, &f)
	if err != nil {
		return nil, err
	}
	errs := tomlcheck.NewErrors(name, data)
	errs.Unknown(md)
	for i := range f.Cases {
		d := &f.Cases[i]
		k := func(f string) []string { return []string{"cases", tomlcheck.Index(i), f} }
		if d.ID == "" {
			errs.AddKind(tomlcheck.Missing, k("id"), "required field is missing")
		}
		for _, v := range []struct {
			x    float64
			name string
		}{{d.TPOTP50Ms, "tpot_p50_ms"}, {d.TTFTP50Ms, "ttft_p50_ms"}, {d.OutputTPS, "output_tps"}, {d.RequestRPS, "request_rps"}} {
			if !(v.x > 0 && v.x < 1e9) {
				errs.AddKind(tomlcheck.OutOfRange, k(v.name), "must be positive, got %v", v.x)
			}
		}
		if !(d.GPUMemUtil > 0 && d.GPUMemUtil <= 1) {
			errs.AddKind(tomlcheck.OutOfRange, k("gpu_mem_util"), "must be in (0, 1], got %v", d.GPUMemUtil)
		}
		if d.RequestRPS > 0 {
			d.OutputTokens = int(math.Round(d.OutputTPS / d.RequestRPS))
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return f.Cases, nil
}

// Cases groups the colocated-ratio rows into cases (rows with the same
// device, engine, model, weights and settings) and joins each with its
// dedicated figures, by id prefix. A case without dedicated figures, or
// with settings the twin cannot follow, is an error naming its rows.
func Cases(rows []measure.Row, dedicated []Dedicated) ([]Case, error) {
	byKey := map[string]*Case{}
	var keys []string
	var errs []error
	for _, r := range rows {
		if r.Kind != measure.ColocatedRatio {
			continue
		}
		key := strings.Join([]string{r.Hardware, r.Engine, r.Model, r.Quant, r.KVCache, r.Settings.String()}, "|")
		c, ok := byKey[key]
		if !ok {
			c = &Case{Hardware: r.Hardware, Engine: r.Engine, Model: r.Model, Quant: r.Quant, KVCache: r.KVCache,
				Ratios: map[measure.Metric]float64{}}
			if err := c.settings(r.Settings); err != nil {
				errs = append(errs, fmt.Errorf("row %s: settings: %w", r.ID, err))
				continue
			}
			byKey[key] = c
			keys = append(keys, key)
		}
		c.Ratios[r.Metric] = r.Value
		c.RowIDs = append(c.RowIDs, r.ID)
		c.Sources = append(c.Sources, r.Source)
	}
	var cases []Case
	for _, key := range keys {
		c := byKey[key]
		c.ID = commonPrefix(c.RowIDs)
		slices.Sort(c.Sources)
		c.Sources = slices.Compact(c.Sources)
		i := slices.IndexFunc(dedicated, func(d Dedicated) bool { return d.ID == c.ID })
		if i < 0 {
			errs = append(errs, fmt.Errorf("case %s (rows %s): no dedicated figures with id %q", c.ID, strings.Join(c.RowIDs, ", "), c.ID))
			continue
		}
		c.Dedicated = dedicated[i]
		cases = append(cases, *c)
	}
	if len(errs) > 0 {
		return nil, joinErrs(errs)
	}
	return cases, nil
}

// settings reads the keys of a colocated-ratio row's settings.
func (c *Case) settings(kv measure.Settings) error {
	for _, set := range kv {
		k, v := set.Key, set.Value
		switch k {
		case "sharing":
			c.Sharing = scenario.Sharing(v)
			if !c.Sharing.Valid() {
				return fmt.Errorf("sharing: unknown %q", v)
			}
		case "instances":
			n, err := strconv.Atoi(v)
			if err != nil || n < 2 || n > scenario.MaxInstancesPerNode {
				return fmt.Errorf("instances: want 2 to %d, got %q", scenario.MaxInstancesPerNode, v)
			}
			c.Instances = n
		case "mps_sm_percent":
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || !(x > 0 && x <= 100) {
				return fmt.Errorf("mps_sm_percent: want (0, 100], got %q", v)
			}
			c.SMPercent = x
		case "gpu_mem_util":
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || !(x > 0 && x <= 1) {
				return fmt.Errorf("gpu_mem_util: want (0, 1], got %q", v)
			}
			c.MemFraction = x
		default:
			return fmt.Errorf("unknown key %q", k)
		}
	}
	if c.Sharing == "" || c.Instances == 0 {
		return fmt.Errorf("needs sharing and instances, got %q", kv.String())
	}
	return nil
}

// commonPrefix is the longest run of whole "-"-separated words the ids
// all start with.
func commonPrefix(ids []string) string {
	p := strings.Split(ids[0], "-")
	for _, id := range ids[1:] {
		w := strings.Split(id, "-")
		n := 0
		for n < len(p) && n < len(w) && p[n] == w[n] {
			n++
		}
		p = p[:n]
	}
	return strings.Join(p, "-")
}

func joinErrs(errs []error) error {
	var b bytes.Buffer
	for i, e := range errs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.Error())
	}
	return fmt.Errorf("%s", b.String())
}
