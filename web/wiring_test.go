package web

import (
	"context"
	"log"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/perf"
)

// testOptions is what a test wires a dashboard from, as serve does.
type testOptions struct {
	DataDir, Token   string
	Catalog          *catalog.Catalog
	Profiles         perf.ProfileSet
	CalibrationDirs  []string
	CalibrationPlans string
	Ollama           string
	MaxRuns          int
	MaxPlans         int
	Logger           *log.Logger
}

// wired is a dashboard with its jobs; Close stops them, as serve does
// on its way out.
type wired struct {
	*Server
	stop func()
}

func (w *wired) Close() { w.stop() }

// newServer opens the jobs and hands them to a dashboard, as
// cmd/fleettwin serve does.
func newServer(opt testOptions) (*wired, error) {
	s := NewServer()
	s.Token, s.Catalog, s.Profiles, s.CalibrationPlans = opt.Token, opt.Catalog, opt.Profiles, opt.CalibrationPlans
	ctx, stop := context.WithCancel(context.Background())
	cfg := jobs.Config{DataDir: opt.DataDir, Catalog: opt.Catalog, Profiles: opt.Profiles, Publisher: s.Hub, Logger: opt.Logger}
	var err error
	if s.Runs, err = jobs.OpenRuns(ctx, cfg, opt.MaxRuns); err != nil {
		stop()
		return nil, err
	}
	s.Plans = jobs.OpenPlans(ctx, cfg, opt.MaxPlans)
	s.Calibrations = jobs.OpenCalibrations(ctx, cfg, opt.CalibrationDirs, opt.Ollama)
	return &wired{Server: s, stop: func() {
		stop()
		s.Runs.Close()
		s.Plans.Close()
		s.Calibrations.Close()
	}}, nil
}

// The files jobs keeps a run and a plan in, under the data dir: the
// layout the tests damage and read back.
const (
	metaFile       = "run.json"
	scenarioFile   = "scenario.toml"
	stateFile      = "state.json"
	planResultFile = "result.json"
	planStateFile  = "state.json"
)

func mustJSON(v any) []byte {
	b, err := jsonfmt.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
