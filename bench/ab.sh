#!/bin/sh
# ab.sh OLD.test NEW.test OUTDIR [COUNT] [BENCH]: runs two compiled sim test
# binaries' benchmarks in alternation, COUNT times each, so that both see
# the same load on a shared machine, into OUTDIR/old.txt and OUTDIR/new.txt
# for benchstat. Run from the repository root.
set -eu
old=$1 new=$2 out=$3 count=${4:-10}
bench=${5:-'BenchmarkOneInstance$|BenchmarkSeedColocated$|BenchmarkFleet100$'}
mkdir -p "$out"
: > "$out/old.txt"
: > "$out/new.txt"
cd sim
for i in $(seq "$count"); do
	"$old" -test.run '^$' -test.bench "$bench" -test.benchmem >> "$out/old.txt"
	"$new" -test.run '^$' -test.bench "$bench" -test.benchmem >> "$out/new.txt"
done
