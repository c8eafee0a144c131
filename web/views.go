package web

import (
	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/twin"
)

// The jobs' states, as the pages render them: the names are jobs' and
// twin's; these are only the pages' short spellings of them.
type (
	State        = jobs.State
	Meta         = jobs.Meta
	ModelSeries  = jobs.ModelSeries
	DeviceSeries = jobs.DeviceSeries
	Run          = jobs.Run
	PlanState    = jobs.PlanState
	CalState     = jobs.CalState
	CalExp       = jobs.CalExp
	// Outcome is a finished run's result (result.json).
	Outcome = twin.Simulation
)
