package twin

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/sim"
)

// SeriesHeader is the header row of a series CSV.
var SeriesHeader = []string{"node", "t_s", "utilization", "mfu", "mbu", "kv_use", "running", "waiting", "power_w", "temp_c", "clock", "throttled"}

// WriteSeriesCSV writes per-device time series as CSV, one row per device
// and bin, devices in order, t_s the bin's start: the one series format,
// of `simulate --series` and the dashboard's series.csv. Values are
// rounded as the JSON results are; NaN and ±Inf are empty cells.
func WriteSeriesCSV(w io.Writer, series []sim.DeviceSeries) error {
	cw := csv.NewWriter(w)
	cw.Write(SeriesHeader)
	for _, s := range series {
		for i := range s.Utilization {
			cw.Write([]string{s.Node, num(float64(i) * s.BinS), num(s.Utilization[i]), num(s.MFU[i]), num(s.MBU[i]),
				num(s.KVUse[i]), num(s.Running[i]), num(s.Waiting[i]), num(s.PowerW[i]), num(s.TempC[i]), num(s.Clock[i]), num(s.Throttled[i])})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("series csv: %w", err)
	}
	return nil
}

func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(jsonfmt.Round(v), 'g', -1, 64)
}
