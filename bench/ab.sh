#!/bin/sh
# ab.sh OUTDIR COUNT BIN...: runs compiled sim test binaries' benchmarks
# in alternation, COUNT rounds of one run each, so that all see the same
# load on a shared machine; BIN's results go to OUTDIR/$(basename BIN).txt
# for benchstat. BENCH overrides the benchmarks. Run from the repository
# root.
set -eu
out=$1 count=$2
shift 2
bench=${BENCH:-'BenchmarkOneInstance$|BenchmarkSeedColocated$|BenchmarkFleet100$'}
mkdir -p "$out"
for b in "$@"; do : > "$out/$(basename "$b").txt"; done
cd sim
for i in $(seq "$count"); do
	for b in "$@"; do
		"$b" -test.run '^$' -test.bench "$bench" -test.benchmem >> "$out/$(basename "$b").txt"
	done
done
