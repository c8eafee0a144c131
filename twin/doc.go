// Package twin is the one simulation pipeline: simulate a scenario, price
// what throttling cost it, and cost it, with one result type that the
// command line (`simulate --json`), the dashboard (a run's result.json)
// and the HTML report all read and write, and one time-series format
// (`simulate --series`, the dashboard's series.csv).
//
// Package sim reads no wall clock; the pacer that holds a live run to a
// multiple of real time lives here (Options.Pace).
package twin
