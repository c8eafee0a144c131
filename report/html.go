package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/fleettwin/fleettwin/chart"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/twin"
	"github.com/fleettwin/fleettwin/verdict"
)

//go:embed report.html.tmpl
var pageText string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"usd":     func(v float64) string { return fmt.Sprintf("$%.2f", v) },
	"usd0":    func(v float64) string { return fmt.Sprintf("$%.0f", v) },
	"ms":      func(v float64) string { return num(1000*v, "%.1f ms") },
	"s":       func(v float64) string { return num(v, "%.3g s") },
	"pct":     func(v float64) string { return num(100*v, "%.1f%%") },
	"f1":      func(v float64) string { return num(v, "%.1f") },
	"desc":    Describe,
	"span":    Span,
	"reasons": Reasons,
	"statusClass": func(s verdict.Status) string {
		return map[verdict.Status]string{verdict.Pass: "ok", verdict.Fail: "bad", verdict.Caveat: "caveat"}[s]
	},
	"inc":    func(i int) int { return i + 1 },
	"scaled": scaledOf,
	"priorNote": func(ps []perf.ProvenanceInfo) string {
		if n := twin.PriorNote(ps); n != "" {
			return "These results " + n + "."
		}
		return ""
	},
}).Parse(pageText))

func num(v float64, format string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

type figure struct {
	Title string
	SVG   template.HTML
}

type pageData struct {
	Title   string
	Kind    string // plan or simulation
	Plan    *planner.Result
	Front   map[int]bool
	Sim     *twin.Simulation
	Verdict *verdict.Verdict
	Figures []figure
}

// Options are what a simulation's verdict is judged with: a result
// records whether each SLO was met, not its targets, and has no baseline.
type Options struct {
	SLOs     []verdict.SLO // from the scenario (verdict.SLOs)
	Baseline *verdict.Run  // the run the cost is compared with
}

// WriteHTML renders a plan result or a simulation, read from its JSON
// (either kind; the fields tell them apart), as one self-contained page:
// tables and inline SVG charts, no scripts, no links out.
func WriteHTML(w io.Writer, data []byte) error { return Render(w, data, Options{}) }

// Render is WriteHTML with the SLO targets and the baseline a
// simulation's verdict is judged against.
func Render(w io.Writer, data []byte, opt Options) error {
	var probe struct {
		PlanSHA256 *string `json:"plan_sha256"`
		Scenario   *string `json:"scenario"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	switch {
	case probe.PlanSHA256 != nil:
		var r planner.Result
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("report: plan: %w", err)
		}
		if err := checkPlan(&r); err != nil {
			return fmt.Errorf("report: plan: %w", err)
		}
		return Plan(w, &r)
	case probe.Scenario != nil:
		var s twin.Simulation
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("report: simulation: %w", err)
		}
		return SimWith(w, &s, opt)
	}
	return fmt.Errorf("report: neither a plan result (fleettwin plan --json) nor a simulation (fleettwin simulate --json)")
}

// Plan renders a plan result.
func Plan(w io.Writer, r *planner.Result) error {
	d := pageData{Title: "Plan " + r.Plan, Kind: "plan", Plan: r, Front: map[int]bool{}}
	for _, i := range r.Pareto {
		d.Front[i] = true
	}
	for _, c := range PlanCharts(r) {
		f, err := svg(c)
		if err != nil {
			return err
		}
		d.Figures = append(d.Figures, f)
	}
	return page.Execute(w, d)
}

// Sim renders a simulation (what twin.Simulate returns): the verdict,
// per-model latency and SLOs, per-device activity, power and heat, and
// the cost.
func Sim(w io.Writer, s *twin.Simulation) error { return SimWith(w, s, Options{}) }

// SimWith is Sim with the verdict judged against opt's SLOs and baseline.
func SimWith(w io.Writer, s *twin.Simulation, opt Options) error {
	v := verdict.Of(verdict.Run{Sim: s, SLOs: opt.SLOs}, verdict.Options{Baseline: opt.Baseline})
	d := pageData{Title: "Simulation " + s.Scenario, Kind: "simulation", Sim: s, Verdict: &v}
	var labels []string
	var ys [][]float64
	for _, m := range s.Models {
		labels = append(labels, m.Model+" TTFT", m.Model+" E2E")
		ys = append(ys, []float64{m.TTFT.P50, m.TTFT.P90, m.TTFT.P95, m.TTFT.P99}, []float64{m.E2E.P50, m.E2E.P90, m.E2E.P95, m.E2E.P99})
	}
	c := Chart{Name: "latency", Title: "latency percentiles", Draw: func(w io.Writer, format string) error {
		return chart.Lines(w, s.Scenario+": latency percentiles", "percentile", "seconds", []float64{50, 90, 95, 99}, labels, ys, format)
	}}
	f, err := svg(c)
	if err != nil {
		return err
	}
	d.Figures = append(d.Figures, f)
	return page.Execute(w, d)
}

func svg(c Chart) (figure, error) {
	var b bytes.Buffer
	if err := c.Draw(&b, "svg"); err != nil {
		return figure{}, fmt.Errorf("chart %s: %w", c.Name, err)
	}
	s := b.String()
	if i := strings.Index(s, "<svg"); i > 0 { // drop the XML prolog inside HTML
		s = s[i:]
	}
	return figure{Title: c.Title, SVG: template.HTML(s)}, nil
}

// Describe is a configuration in a few words: hardware, engine, weight
// format, each node group's count and models, the settings that differ
// from the defaults, and a disaggregated configuration's prefill and decode
// pools (planner.Outcome.PoolsLabel).
func Describe(o planner.Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s · %s · %s", o.Hardware, o.Engine, o.Quant)
	for i, g := range o.Groups {
		sep := " | "
		if i == 0 {
			sep = " · "
		}
		n := 0
		if g.Metrics != nil {
			n = g.Metrics.Nodes
		}
		fmt.Fprintf(&b, "%s%d× [%s]", sep, n, strings.Join(g.Models, "+"))
		if i < len(o.DP) && o.DP[i] > 1 {
			fmt.Fprintf(&b, " dp %d", o.DP[i])
		}
	}
	if len(o.Groups) == 0 {
		fmt.Fprintf(&b, " · %s", o.Layout())
	}
	if o.Memory != scenario.MemoryStatic {
		fmt.Fprintf(&b, " · %s memory", o.Memory)
	}
	if o.Sharing != "" {
		fmt.Fprintf(&b, " · %s", o.Sharing)
	}
	if o.MaxSeqs > 0 {
		fmt.Fprintf(&b, " · seqs %d", o.MaxSeqs)
	}
	if o.MaxBatchedTokens > 0 {
		fmt.Fprintf(&b, " · tokens %d", o.MaxBatchedTokens)
	}
	if o.PowerCapW > 0 {
		fmt.Fprintf(&b, " · cap %g W", o.PowerCapW)
	}
	// The parallel layout on a node type of several devices: each
	// instance's tp (pp and ep where above 1); dp follows each group.
	if o.TP > 0 {
		fmt.Fprintf(&b, " · tp %d", o.TP)
		if o.PP > 1 {
			fmt.Fprintf(&b, " pp %d", o.PP)
		}
		if o.EP > 1 {
			fmt.Fprintf(&b, " ep %d", o.EP)
		}
	}
	if o.Speculative != nil {
		fmt.Fprintf(&b, " · speculative %s", planner.SpecLabel(o.Speculative))
	}
	if l := o.PoolsLabel(); l != "" {
		b.WriteString(" · disaggregated: " + l)
	}
	return b.String()
}
