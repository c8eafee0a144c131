#!/bin/sh
# instr.sh SCENARIO BIN...: instructions each fleettwin binary executes to
# simulate SCENARIO, counted by valgrind's cachegrind. Deterministic and
# blind to other work on the machine, unlike its wall or CPU time, so
# changes that keep results byte-identical compare exactly.
set -eu
sc=$1
shift
for b in "$@"; do
	ir=$(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$b" simulate "$sc" --quiet 2>&1 >/dev/null | sed -n 's/.*I *refs: *//p')
	echo "$(basename "$b") $(basename "$sc" .toml) $ir"
done
