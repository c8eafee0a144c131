// Package jobs runs the dashboard's long work: simulations (Runs),
// planner searches (Plans) and calibrations against real engines
// (Calibrations), with one lifecycle. Each job has an ID, a folder under
// the data dir that outlives the server, a context derived from the one
// it was opened with, a stop, a place in a queue when too many run at
// once, an "interrupted" status after a restart, and a panic that fails
// the job alone. Jobs publish their states through a Publisher (the
// dashboard's websocket hub) and never serve HTTP themselves: package web
// does, reading them.
//
// The data dir:
//
//	runs/<id>/run.json, scenario.toml, state.json, result.json, series.csv
//	plans/<id>/plan.toml, state.json, result.json
//
// Calibrations are recorded in folders of `fleettwin calibrate run`
// run directories (calibrate's layout), not in the data dir.
package jobs

import (
	"bytes"
	"encoding/json"
	"log"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/perf"
)

// Publisher sends a message to the viewers of a topic. The dashboard's
// websocket hub is one; jobs need nothing else of it.
type Publisher interface {
	Publish(topic string, msg []byte)
}

// Config is what every kind of job is opened with.
type Config struct {
	DataDir   string // runs are kept under DataDir/runs, plans under DataDir/plans
	Catalog   *catalog.Catalog
	Profiles  perf.ProfileSet
	Publisher Publisher
	// Logger gets what no page shows: entries of the data dir skipped,
	// the stack of a job that panicked (nil: the standard logger).
	Logger *log.Logger
}

func (c Config) logger() *log.Logger {
	if c.Logger == nil {
		return log.Default()
	}
	return c.Logger
}

// Topics: what a job publishes its states under.
func RunTopic(id string) string         { return "run/" + id }
func PlanTopic(id string) string        { return "plan/" + id }
func CalibrationTopic(id string) string { return "cal/" + id }

func mustJSON(v any) []byte {
	b, err := jsonfmt.Marshal(v)
	if err != nil {
		panic(err) // our own types always encode
	}
	return b
}

// wireJSON is mustJSON without the indentation, for the stream.
func wireJSON(v any) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, mustJSON(v)); err != nil {
		panic(err) // mustJSON writes valid JSON
	}
	return b.Bytes()
}
