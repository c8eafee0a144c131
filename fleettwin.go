// Package fleettwin holds the data files that ship inside the fleettwin
// binary: the built-in catalog of models and hardware (models.toml) and the
// default performance profiles (profiles/*.toml). Embedding them keeps the
// binary self-contained, so `fleettwin predict` works from any directory.
//
// The code lives in the subpackages, floor by floor (docs/architecture.md):
//
//   - leaves: engine (the discrete-event kernel), fit (least squares),
//     power (power and heat), sketch (quantiles), chart (gonum/plot
//     charts), gguf (the GGUF format), internal/... (atomic writes, JSON
//     formatting, TOML guard and diagnostics, a test buffer),
//     measure (the rows of published measurements);
//   - vocabulary: catalog (models, weight formats, hardware), perf (the
//     step-time model and its profiles), workload (traffic);
//   - the question: scenario (a fleet and its traffic, resolved), with the
//     shipped scenario and planner plan files embedded by scenarios and
//     plans;
//   - the answer: sim (the simulator), tco (what it costs);
//   - pipelines: twin (simulate, price throttling, cost), planner (the
//     cheapest fleet meeting the SLOs), calibrate (measure real servers,
//     fit and replay profiles, with its clients ollama, openai and
//     telemetry), randmodel (random-weight models),
//     validate (published measurements reproduced in the twin, scored),
//     servefit (serving-engine terms fitted to published serving rows),
//     sharefit (the sharing coefficients fitted to published co-location
//     cases), verdict (plain answers to claim-like questions about a run);
//   - jobs (runs, plans and calibrations on a data directory) and report
//     (HTML pages);
//   - edges: web (the dashboard) and cmd/fleettwin (the CLI).
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
