// Package scenarios embeds the shipped scenario files, so the binary can
// offer them (the dashboard's default is the seed claim) without the
// source tree. Package scenario reads them.
package scenarios

import "embed"

// FS holds every shipped scenario, by file name, and the files they name
// (traces/), so a shipped scenario resolves with FS as its folder.
//
//go:embed *.toml traces/*
var FS embed.FS

// Default is the scenario the dashboard starts from: the seed claim.
const Default = "seed-colocated.toml"
