// Package validate reproduces published measurements (measure.Row) in the
// twin and scores them: each row's experiment is run the way its kind
// requires and the row's metric is computed from what the twin predicts,
// exactly as the measurement defines it (docs/validation.md).
//
//   - bench-prefill, bench-decode, batched-bench: the steps the benchmark
//     ran, through perf's step model (perf.BenchRow.Observation and
//     perf.Evaluate, the path `fleettwin profile check` takes).
//   - closed-loop, burst, poisson: a generated scenario.File of one node
//     and one instance with the row's engine settings, resolved with
//     scenario.Resolve and run with sim.Run until every request of the row
//     has completed; the serving metrics are computed from the simulated
//     requests as `vllm bench serve` computes them.
//
// Rows of one experiment (equal but for id, metric, value and source) are
// simulated once. A row the twin cannot reproduce yet (tensor, pipeline or
// expert parallelism, speculative decoding, several nodes, a device, model
// or profile the twin lacks) is not run and carries the reason in
// Result.Err; it is never dropped.
//
// Reproduce is deterministic: the same rows give the same results on any
// GOMAXPROCS, each experiment seeded from its own conditions.
package validate
