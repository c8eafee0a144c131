package scenario

import (
	"bytes"

	"github.com/fleettwin/fleettwin/workload"
)

// readTrace parses a trace file the way its arrival names: trace_format,
// then the slice (start_s, duration_s) and the time scale (speedup).
// Options the workload's validation refused were reported there, so the
// file is then not read, rather than reported twice.
func readTrace(name string, b []byte, a workload.Arrival) (any, error) {
	opt := a.TraceImport()
	if opt.Validate() != nil {
		return nil, nil
	}
	recs, err := workload.ReadTraceAs(name, bytes.NewReader(b), opt)
	if err != nil {
		return nil, err
	}
	return recs, nil
}
