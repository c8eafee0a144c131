// Package plans embeds the shipped planner plans (`fleettwin plan
// plans/seed.toml`), so the dashboard can offer them without the source
// tree. Calibration plans, which measure real servers, are in
// calibration-plans/.
package plans

import "embed"

// FS holds every shipped plan, by file name.
//
//go:embed *.toml
var FS embed.FS

// Default is the plan the dashboard offers first: the seed claim as a
// buying question.
const Default = "seed.toml"
