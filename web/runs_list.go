package web

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/verdict"
)

// runRow is a run in the runs list: its progress and key metrics, live
// while it goes (the latest points of its state), from its result once
// it ends. NaN where there is nothing yet (written as null).
type runRow struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Status   string    `json:"status"`
	QueuePos int       `json:"queue_position,omitempty"`
	Created  time.Time `json:"created"`
	Progress float64   `json:"progress"`
	// The worst model's TTFT and TPOT p95 over the run so far, the
	// devices' mean utilization (live: the latest interval; done: after
	// warm-up, as cost counts it), the models meeting their SLO and the
	// cost, once done.
	TTFTP95S    float64 `json:"ttft_p95_s"`
	TPOTP95S    float64 `json:"tpot_p95_s"`
	Utilization float64 `json:"utilization"`
	SLOMet      int     `json:"slo_met"`
	Models      int     `json:"models"`
	USDPerHour  float64 `json:"usd_per_hour"`
	Done        bool    `json:"done"`
	// Spark is the devices' mean utilization over the run, at most
	// sparkPoints points: the row's sparkline.
	Spark []float64 `json:"spark"`
}

// sparkPoints is the most points a row's sparkline has.
const sparkPoints = 48

// spark is the devices' mean utilization at each point of the state,
// every k-th point kept so there are at most sparkPoints (the last
// always).
func spark(st jobs.State) []float64 {
	n := len(st.T)
	if n == 0 || len(st.Devices) == 0 {
		return []float64{}
	}
	k := (n + sparkPoints - 1) / sparkPoints
	var out []float64
	for i := 0; i < n; i++ {
		if (n-1-i)%k != 0 {
			continue
		}
		sum, m := 0.0, 0
		for _, d := range st.Devices {
			if i < len(d.Utilization) && !math.IsNaN(d.Utilization[i]) {
				sum += d.Utilization[i]
				m++
			}
		}
		if m > 0 {
			out = append(out, sum/float64(m))
		}
	}
	return out
}

// sparkLine is a sparkline's SVG points on an 80×20 box, utilization 0
// at the bottom and 1 at the top.
func sparkLine(xs []float64) string {
	var b strings.Builder
	for i, x := range xs {
		px := 0.0
		if len(xs) > 1 {
			px = 80 * float64(i) / float64(len(xs)-1)
		}
		fmt.Fprintf(&b, "%.1f,%.1f ", px, 19-18*math.Max(0, math.Min(1, x)))
	}
	return strings.TrimSpace(b.String())
}

func last(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return xs[len(xs)-1]
}

// worse is the larger of two latencies, NaN only if both are.
func worse(a, b float64) float64 {
	switch {
	case math.IsNaN(a):
		return b
	case math.IsNaN(b):
		return a
	}
	return math.Max(a, b)
}

// rowOf sums up a run for the runs list.
func rowOf(run *jobs.Run) runRow {
	st, o := run.State(), run.Outcome()
	r := runRow{ID: st.ID, Name: st.Name, Status: st.Status, QueuePos: st.QueuePos, Created: st.Created, Progress: st.Progress,
		TTFTP95S: math.NaN(), TPOTP95S: math.NaN(), Utilization: math.NaN(), USDPerHour: math.NaN(), Models: len(st.Models), Done: st.Done,
		Spark: spark(st)}
	if o != nil && o.Result != nil {
		var util float64
		for _, m := range o.Models {
			r.TTFTP95S, r.TPOTP95S = worse(r.TTFTP95S, m.TTFT.P95), worse(r.TPOTP95S, m.TPOT.P95)
			if m.SLOMet {
				r.SLOMet++
			}
		}
		for _, d := range o.Devices {
			util += d.WindowUtilization
		}
		r.Models = len(o.Models)
		if len(o.Devices) > 0 {
			r.Utilization = util / float64(len(o.Devices))
		}
		if o.Cost != nil {
			r.USDPerHour = o.Cost.USDPerHour
		}
		return r
	}
	for _, m := range st.Models {
		r.TTFTP95S, r.TPOTP95S = worse(r.TTFTP95S, last(m.TTFTP95)), worse(r.TPOTP95S, last(m.TPOTP95))
	}
	var util float64
	n := 0
	for _, d := range st.Devices {
		if u := last(d.Utilization); !math.IsNaN(u) {
			util += u
			n++
		}
	}
	if n > 0 {
		r.Utilization = util / float64(n)
	}
	return r
}

// runRows is every run's row, newest first.
func (s *Server) runRows() []runRow {
	var rows []runRow
	for _, st := range s.Runs.List() {
		if run, ok := s.Runs.Get(st.ID); ok {
			rows = append(rows, rowOf(run))
		}
	}
	return rows
}

// apiRunRows serves the runs list's rows, which the runs page polls while
// a run goes.
func (s *Server) apiRunRows(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.runRows())
}

// Cells of a row as the page and app.js write them.
func rowLatency(v float64) string { return verdict.Seconds(v) }

func rowUSD(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return verdict.USD(v, 4) + "/h"
}

func rowSLO(r runRow) string {
	if !r.Done || r.Models == 0 {
		return "-"
	}
	return fmt.Sprintf("%d of %d", r.SLOMet, r.Models)
}

func rowProgress(r runRow) string { return fmt.Sprintf("%.0f%%", 100*r.Progress) }

// anyLive reports whether a run is queued or running: the page polls the
// rows while one is.
func anyLive(rows []runRow) bool {
	for _, r := range rows {
		if !r.Done {
			return true
		}
	}
	return false
}
