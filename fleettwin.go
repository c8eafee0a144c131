// Package fleettwin holds the data files that ship inside the fleettwin
// binary: the built-in catalog of models and hardware (models.toml) and the
// default performance profiles (profiles/*.toml). Embedding them keeps the
// binary self-contained, so `fleettwin predict` works from any directory.
//
// The code lives in the subpackages: catalog (models, weight formats,
// hardware), perf (the step-time model and its profiles), fit (least
// squares), engine (the discrete-event kernel) and cmd/fleettwin.
package fleettwin

import "embed"

// CatalogTOML is the built-in catalog, models.toml at the repository root.
//
//go:embed models.toml
var CatalogTOML []byte

// CatalogFile is the name under which errors in CatalogTOML are reported.
const CatalogFile = "models.toml"

// Profiles holds the default performance profiles, one per (hardware, engine),
// as profiles/<hardware>.<engine>.toml.
//
//go:embed profiles/*.toml
var Profiles embed.FS
