package perf

// Provenance says where a profile's numbers come from.
type Provenance struct {
	Method  string   `toml:"method"`  // "fit" or "datasheet"
	Source  string   `toml:"source"`  // the data fitted, or the basis of the defaults
	Command string   `toml:"command"` // how to reproduce it
	Fitted  []string `toml:"fitted"`  // coefficients the fit set
	Notes   string   `toml:"notes"`
	// Calibration runs also record what was measured, when, and with what.
	Run      string            `toml:"run,omitempty"`
	Date     string            `toml:"date,omitempty"`
	Versions map[string]string `toml:"versions,omitempty"`
	HeldOut  []string          `toml:"held_out,omitempty"` // experiments kept out of the fit
}

// FitRow is one measurement a profile was fitted on, with the fit's error.
type FitRow struct {
	ID        string  `toml:"id"`
	Measured  float64 `toml:"measured"`
	Predicted float64 `toml:"predicted"`
	Unit      string  `toml:"unit"`
	ErrorPct  float64 `toml:"error_pct"`
}
