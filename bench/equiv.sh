#!/bin/sh
# equiv.sh REF NEW: runs every shipped scenario and every bench/equiv
# variant through two fleettwin binaries and fails unless the JSON result,
# the per-request CSV and the series CSV are byte-identical. Used to hold
# the simulator's speed-ups (issue 18) to today's results.
set -eu
ref=$1 new=$2
dir=$(dirname "$0")
tmp=$(mktemp -d)
fail=0
for f in "$dir"/../scenarios/*.toml "$dir"/equiv/*.toml; do
	n=$(basename "$f" .toml)
	for b in ref new; do
		bin=$ref
		[ $b = new ] && bin=$new
		"$bin" simulate "$f" --quiet --json "$tmp/$n.$b.json" --requests "$tmp/$n.$b.req.csv" --series "$tmp/$n.$b.series.csv" > "$tmp/$n.$b.out"
	done
	for x in json req.csv series.csv out; do
		if ! cmp -s "$tmp/$n.ref.$x" "$tmp/$n.new.$x"; then
			echo "DIFF $n.$x"
			fail=1
		fi
	done
	echo "ok-checked $n"
done
rm -rf "$tmp"
exit $fail
