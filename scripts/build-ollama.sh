#!/usr/bin/env bash
# Builds Ollama, CPU only, from the Go module proxy and caches the binary by
# version, so tests can run a real inference engine without a download of
# prebuilt binaries. Prints the binary's path on stdout.
#
# The module zip drops llama.cpp's vendor/ folder, so three header-only
# libraries (nlohmann/json, miniaudio, stb_image) are taken from the git
# bundle of llama.cpp that the npm package node-llama-cpp ships.
#
# Environment: OLLAMA_VERSION (v0.17.4), FLEETTWIN_CACHE (.cache in the repo).
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH

version=${OLLAMA_VERSION:-v0.17.4}
headers_from=node-llama-cpp@3.22.1
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${FLEETTWIN_CACHE:-$root/.cache}
dir=$cache/ollama/$version
bin=$dir/ollama

if [[ -x $bin ]]; then echo "$bin"; exit 0; fi
for tool in go gcc g++ npm git tar; do
	command -v "$tool" >/dev/null || { echo "build-ollama: $tool is required" >&2; exit 1; }
done

inc=$cache/llama-vendor/$headers_from
if [[ ! -f $inc/nlohmann/json.hpp ]]; then
	echo "build-ollama: fetching header-only libraries from $headers_from" >&2
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	(cd "$work" && npm pack --silent "$headers_from" >/dev/null &&
		tar -xzf node-llama-cpp-*.tgz package/llama/gitRelease.bundle &&
		git -c advice.detachedHead=false clone --quiet package/llama/gitRelease.bundle llama.cpp)
	mkdir -p "$inc.tmp"
	cp -r "$work"/llama.cpp/vendor/{nlohmann,miniaudio,stb} "$inc.tmp/"
	rm -rf "$inc" && mv "$inc.tmp" "$inc"
fi

echo "build-ollama: building ollama $version (cold: a few minutes; cached in $dir)" >&2
mkdir -p "$dir"
tmpbin=$(mktemp -d "$dir/gobin.XXXXXX")
# -O3 -march=x86-64-v3: the default cgo flags (-O2, no AVX2) run about 10x slower.
CGO_ENABLED=1 CGO_CPPFLAGS="-I$inc" \
	CGO_CFLAGS="-O3 -march=x86-64-v3" CGO_CXXFLAGS="-O3 -march=x86-64-v3" \
	GOBIN=$tmpbin GOFLAGS=-mod=mod go install "github.com/ollama/ollama@$version" 2> >(grep -v -e 'warning' -e 'note:' -e '^ *|' -e '^ *[0-9]* |' -e 'In function' -e 'In member' -e 'inlined from' -e '^# github.com' >&2 || true)
mv "$tmpbin/ollama" "$bin"
rm -rf "$tmpbin"
echo "$bin"
