// Package scenarios embeds the shipped scenario and plan files, so the
// binary can offer them (the dashboard's default is the seed claim)
// without the source tree.
package scenarios

import "embed"

// FS holds every shipped scenario, by file name.
//
//go:embed *.toml
var FS embed.FS

// Plans holds the shipped plans for `fleettwin plan`, under plans/.
//
//go:embed plans/*.toml
var Plans embed.FS

// Default is the scenario the dashboard starts from: the seed claim.
const Default = "seed-colocated.toml"

// DefaultPlan is the plan the dashboard offers first: the seed claim as a
// buying question.
const DefaultPlan = "seed.toml"
