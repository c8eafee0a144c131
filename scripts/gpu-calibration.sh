#!/usr/bin/env bash
# The GPU co-location calibration, prepared here and run on the `device` tool's machine (one
# NVIDIA H200, 16 cores, no network, 64 MiB carried, 10 minutes a command): llama.cpp's
# llama-server built with CUDA for that GPU, random-weight Qwen3-8B and Qwen3-14B GGUFs, and
# calibration-plans/gpu-qwen3-8b-14b-llamacpp.toml (each model alone, then both together,
# time-sliced and under MPS, with telemetry), everything it measured written under $OUT.
#
#   scripts/gpu-calibration.sh prepare        here: write .cache/gpu-carry/ (what travels)
#   scripts/gpu-calibration.sh run [STEP]     there: STEP is all (default), setup, build,
#                                             models, calibrate, resume or collect
#   scripts/gpu-calibration.sh --cpu run      here: the same steps on the CPU (see below)
#
# prepare (here, needs network: npm, the Go toolchain):
#   - the git bundle of llama.cpp that the npm package node-llama-cpp@3.22.1 ships (as
#     scripts/build-ollama.sh uses it), cached in .cache/llama-bundle/, trimmed to what a
#     llama-server build reads: .cache/gpu-carry/llama.cpp-src.tar.gz (about 5 MB);
#   - a static fleettwin (CGO_ENABLED=0; telemetry from nvidia-smi, no NVML):
#     .cache/gpu-carry/fleettwin (about 20 MB);
#   - .cache/gpu-carry/MANIFEST.txt (provenance, sizes, sha256).
#   Time here: 17-37 s (npm pack 4 s the first time, git archive 2 s, go build 10-30 s).
#
# run (there; every step skips what an earlier call on the same machine left in .cache/gpu-work/):
#   build      llama-server, Release, CUDA for the GPU's architecture only (nvidia-smi's
#              compute_cap; CUDA_ARCH overrides), the llama-server target alone, -j$(nproc).
#              Budget: 3-6 minutes on 16 cores, estimated (the CPU part takes 11 CPU-minutes
#              here; the 188 CUDA sources dominate there); not run there yet.
#   models     fleettwin randmodel: qwen3-8b and qwen3-14b, q8_0 (8.7 + 15.7 GB), both at once.
#              randmodel runs one thread per file, at about 70 M weights per CPU-second here
#              in q8_0 (75 MiB/s; bf16 77 M, 150 MiB/s: as long per weight, but twice the
#              disk, load and decode time): about 3.5 minutes for the 14.8 B of the 14B, during
#              the build under `run` / `run setup`.
#   calibrate  fleettwin calibrate run on the plan (it starts and stops the two llama-servers
#              and the MPS daemon): about 3 minutes, estimated. Without nvidia-cuda-mps-control
#              the plan runs time-slice only, and says so.
#   resume     fleettwin calibrate run --resume on the run the last calibrate on this machine
#              left unfinished (stopped at the deadline, say): only its missing experiments.
#   collect    $OUT/gpu-calibration/: summary.txt (steps, timings, versions), calibrate.log,
#              nvidia-smi-q.txt, run.tar.gz (the run folder), logs.tar.gz (build, randmodel
#              and calibrate logs, versions): at most 8 files, as the device tool brings back.
#              Seconds. `run` collects on exit whatever happened.
#   setup      build and models at once.
#   all        setup, then calibrate, then collect:
#              about 7-9 minutes. A deadline (FT_GPUCAL_DEADLINE_S, default 560 s from the
#              script's start on a GPU, none on the CPU) stops the calibration early enough
#              to collect inside the device tool's 10 minutes; what was measured stays.
#
# --cpu (or GPU=0, or no nvidia-smi): the same steps on this machine: llama-server without
# CUDA, qwen3-0.6b and qwen3-1.7b (q8_0) instead of 8B and 14B, and the same plan rewritten
# for them (cpu-host from calibrate/testdata/ci-catalog.toml, 1 thread per server, 2 slots,
# short prompts, time-slice only: MPS needs a GPU). OUT defaults to a new folder under /tmp.
# On the 2-core machine here (shared): prepare 17-37 s; run: build 15 minutes cold, models 93 s
# (beside the build), calibrate 47 s, collect under 1 s.
#
# Environment: OUT (where run writes; the device tool sets it), GPU (0 or 1: force the mode),
# CUDA_ARCH (e.g. 90), JOBS (build jobs), FT_GPUCAL_RUNS (runs folder, default
# /tmp/ft-gpucal/runs: the MPS control socket under it must stay under 107 bytes),
# FT_GPUCAL_DEADLINE_S.
set -euo pipefail

npm_pkg=node-llama-cpp@3.22.1
root=$(cd "$(dirname "$0")/.." && pwd)
carry=$root/.cache/gpu-carry
work=$root/.cache/gpu-work
bundle_cache=$root/.cache/llama-bundle/$npm_pkg
gpu_plan=calibration-plans/gpu-qwen3-8b-14b-llamacpp.toml
cpu_catalog=calibrate/testdata/ci-catalog.toml
runs=${FT_GPUCAL_RUNS:-/tmp/ft-gpucal/runs}
format=q8_0

log() { printf '%s gpu-calibration: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || die "$t is required and is not on PATH"
	done
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

mode_flag=${GPU:-}
cmd=""
step=""
while (($#)); do
	case $1 in
	--cpu) mode_flag=0 ;;
	--gpu) mode_flag=1 ;;
	-h | --help | help)
		usage
		exit 0
		;;
	prepare | run)
		[[ -z $cmd ]] || die "one command at a time (got $cmd and $1)"
		cmd=$1
		;;
	all | setup | build | models | calibrate | resume | collect)
		[[ $cmd == run && -z $step ]] || die "$1 is a step of run: scripts/gpu-calibration.sh run $1"
		step=$1
		;;
	*) die "unknown argument $1 (scripts/gpu-calibration.sh --help)" ;;
	esac
	shift
done
[[ -n $cmd ]] || {
	usage >&2
	exit 2
}
step=${step:-all}

# ---------------------------------------------------------------------------
# prepare: here
# ---------------------------------------------------------------------------

# The llama.cpp paths a llama-server build reads: the top-level CMake
# project, ggml with the CPU and CUDA backends, llama, common, the tools
# (tools/CMakeLists.txt adds every one of them; the server needs mtmd),
# vendor, and scripts/ui-assets.cmake (the UI is not embedded). Dropped:
# models/ (test vocabularies, 75 MB), docs, tests, examples, the other
# backends and the web UI's sources.
llama_paths=(CMakeLists.txt LICENSE cmake common ggml include src tools vendor licenses app 'scripts/*.cmake')
llama_excludes=(':(exclude)tools/ui/src' ':(exclude)tools/ui/static' ':(exclude)tools/ui/tests')
for b in blas cann et hexagon hip metal musa opencl openvino rpc sycl virtgpu vulkan webgpu zdnn zendnn; do
	llama_excludes+=(":(exclude)ggml/src/ggml-$b")
done

prepare() {
	need go git npm tar gzip sha256sum
	local t0=$SECONDS tmp
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	if [[ ! -f $bundle_cache/gitRelease.bundle ]]; then
		log "fetching llama.cpp's git bundle from $npm_pkg (npm pack, 36 MB)"
		(cd "$tmp" && npm pack --silent "$npm_pkg" >/dev/null &&
			tar -xzf node-llama-cpp-*.tgz package/llama/gitRelease.bundle package/llama/llama.cpp.info.json)
		mkdir -p "$bundle_cache.tmp"
		mv "$tmp"/package/llama/gitRelease.bundle "$tmp"/package/llama/llama.cpp.info.json "$bundle_cache.tmp/"
		rm -rf "$bundle_cache" && mv "$bundle_cache.tmp" "$bundle_cache"
	fi
	git -c advice.detachedHead=false clone --quiet "$bundle_cache/gitRelease.bundle" "$tmp/llama.cpp"
	local commit tag
	commit=$(git -C "$tmp/llama.cpp" rev-parse HEAD)
	tag=$(sed -n 's/.*"tag": *"\([^"]*\)".*/\1/p' "$bundle_cache/llama.cpp.info.json")
	mkdir -p "$carry"
	log "trimming llama.cpp $tag ($commit) to the server build's sources"
	git -C "$tmp/llama.cpp" archive --format=tar --prefix=llama.cpp/ HEAD -- "${llama_paths[@]}" "${llama_excludes[@]}" |
		gzip -n -9 >"$carry/llama.cpp-src.tar.gz.tmp"
	mv "$carry/llama.cpp-src.tar.gz.tmp" "$carry/llama.cpp-src.tar.gz"

	log "building a static fleettwin (CGO_ENABLED=0)"
	export PATH=/usr/local/go/bin:$PATH
	local tags=""
	if ! (cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$carry/fleettwin.tmp" ./cmd/fleettwin) 2>"$tmp/go-build.log"; then
		log "CGO_ENABLED=0 go build failed; trying -tags nonvml"
		tags=nonvml
		(cd "$root" && CGO_ENABLED=0 go build -trimpath -tags nonvml -ldflags='-s -w' -o "$carry/fleettwin.tmp" ./cmd/fleettwin) ||
			die "a static fleettwin does not build (first try: $(head -3 "$tmp/go-build.log"))"
	fi
	mv "$carry/fleettwin.tmp" "$carry/fleettwin"

	local head dirty
	head=$(git -C "$root" rev-parse HEAD)
	dirty=$(git -C "$root" status --porcelain --untracked-files=no | wc -l)
	{
		echo "# What scripts/gpu-calibration.sh prepare wrote, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "llama_cpp_source=$npm_pkg package/llama/gitRelease.bundle"
		echo "llama_cpp_tag=$tag"
		echo "llama_cpp_commit=$commit"
		echo "llama_cpp_paths=${llama_paths[*]} (less: other ggml backends, the web UI's sources)"
		echo "fleettwin_commit=$head"
		echo "fleettwin_uncommitted_files=$dirty"
		echo "fleettwin_build=CGO_ENABLED=0 go build -trimpath -ldflags='-s -w'${tags:+ -tags $tags} ./cmd/fleettwin"
		echo "go=$(go version)"
		(cd "$carry" && for f in llama.cpp-src.tar.gz fleettwin; do echo "size_$f=$(stat -c %s "$f")"; done)
		echo "sha256:"
		(cd "$carry" && sha256sum llama.cpp-src.tar.gz fleettwin)
	} >"$carry/MANIFEST.txt"

	local csize tree
	csize=$(du -sb "$carry" | cut -f1)
	tree=$(cd "$root" && git ls-files -z -co --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
	log "wrote $carry: $(numfmt --to=iec "$csize") ($(cd "$carry" && echo *))"
	log "with the working tree ($(numfmt --to=iec "$tree")) a device call carries $(numfmt --to=iec $((csize + tree))) of its 64 MiB"
	((csize + tree < 60 * 1024 * 1024)) || log "warning: that is close to or over the 64 MiB a device call carries"
	log "prepared in $((SECONDS - t0)) s; on the device, from the repository root, with carry [\".cache/gpu-carry\"]:"
	log "  scripts/gpu-calibration.sh run"
	rm -rf "$tmp"
	trap - EXIT
}

# ---------------------------------------------------------------------------
# run: there (or here with --cpu)
# ---------------------------------------------------------------------------

gpu=0
resolve_mode() {
	case $mode_flag in
	0) gpu=0 ;;
	1)
		command -v nvidia-smi >/dev/null || die "GPU=1/--gpu, but nvidia-smi is not on PATH"
		gpu=1
		;;
	"")
		if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
			gpu=1
		else
			log "no nvidia-smi (or it lists no GPU): running on the CPU (--cpu)"
			gpu=0
		fi
		;;
	*) die "GPU must be 0 or 1, got '$mode_flag'" ;;
	esac
	if ((gpu)); then
		models=(qwen3-8b qwen3-14b)
		deadline=${FT_GPUCAL_DEADLINE_S:-560}
	else
		models=(qwen3-0.6b qwen3-1.7b)
		deadline=${FT_GPUCAL_DEADLINE_S:-0}
	fi
	[[ $deadline =~ ^[0-9]+$ ]] || die "FT_GPUCAL_DEADLINE_S must be whole seconds, got '$deadline'"
	fleettwin=$carry/fleettwin
	src=$work/llama.cpp
	server=$src/build/bin/llama-server
	logs=$work/logs
	mkdir -p "$logs" "$work/models"
	timings=$logs/timings.txt
}

# timed NAME CMD...: runs CMD in a subshell with errexit on, appending its
# wall time and status to the timings; the status is left in step_rc.
# (Never `timed ... || x`: bash ignores set -e in all of a command whose
# status is tested, subshells included.)
step_rc=0
timed() {
	local name=$1 t0=$SECONDS
	shift
	set +e
	(
		set -e
		"$@"
	)
	step_rc=$?
	set -e
	printf '%-10s %5d s  %s\n' "$name" $((SECONDS - t0)) "$([[ $step_rc == 0 ]] && echo ok || echo "failed ($step_rc)")" >>"$timings"
	log "$name: $([[ $step_rc == 0 ]] && echo "done" || echo "FAILED ($step_rc)") in $((SECONDS - t0)) s"
}

manifest() { sed -n "s/^$1=//p" "$carry/MANIFEST.txt" 2>/dev/null; }

need_carry() {
	[[ ! -f $fleettwin || -x $fleettwin ]] || chmod +x "$fleettwin"
	[[ -f $carry/MANIFEST.txt && -x $fleettwin && -f $carry/llama.cpp-src.tar.gz ]] ||
		die "$carry is missing or incomplete: run scripts/gpu-calibration.sh prepare here, and name .cache/gpu-carry in the device call's carry"
}

# nvcc is often outside PATH, in /usr/local/cuda/bin.
find_nvcc() {
	if ! command -v nvcc >/dev/null; then
		local d
		for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
			[[ -x $d/nvcc ]] && PATH=$d:$PATH && break
		done
	fi
	command -v nvcc >/dev/null || die "no nvcc on PATH or in /usr/local/cuda*/bin: the CUDA build needs the CUDA toolkit"
	export CUDACXX
	CUDACXX=$(command -v nvcc)
}

build() {
	need_carry
	need cmake tar gzip
	command -v c++ >/dev/null || command -v g++ >/dev/null || die "no C++ compiler (c++ or g++) on PATH"
	local sum
	sum=$(sha256sum "$carry/llama.cpp-src.tar.gz" | cut -d' ' -f1)
	if [[ "$(cat "$src/.fleettwin-source" 2>/dev/null)" != "$sum" ]]; then
		log "build: unpacking llama.cpp $(manifest llama_cpp_tag) ($(manifest llama_cpp_commit | cut -c1-12))"
		rm -rf "$src"
		tar -xzf "$carry/llama.cpp-src.tar.gz" -C "$work"
		echo "$sum" >"$src/.fleettwin-source"
	fi
	local args=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON
		-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF
		-DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON
		-DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF
		"-DLLAMA_BUILD_COMMIT=$(manifest llama_cpp_commit | cut -c1-12)"
		-DLLAMA_BUILD_NUMBER=0) # else cmake counts the commits of the repository around it: fleettwin's
	if ((gpu)); then
		find_nvcc
		local arch=${CUDA_ARCH:-}
		if [[ -z $arch ]]; then
			arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
		fi
		[[ $arch =~ ^[0-9]+[a-z]?$ ]] || die "cannot read the GPU's architecture (nvidia-smi compute_cap gave '$arch'); set CUDA_ARCH, e.g. 90"
		args+=(-DGGML_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$arch" -DGGML_CUDA_NCCL=OFF)
		log "build: llama-server with CUDA for sm_$arch ($(nvcc --version | tail -1))"
	else
		args+=(-DGGML_CUDA=OFF)
		log "build: llama-server for the CPU"
	fi
	command -v ninja >/dev/null && args+=(-G Ninja)
	if [[ "$(cat "$src/build/.fleettwin-config" 2>/dev/null)" != "${args[*]}" ]]; then
		rm -rf "$src/build"
	elif [[ -x $server ]]; then
		log "build: $server is built already (same sources and flags)"
		return 0
	fi
	local jobs=${JOBS:-$(nproc)}
	if ! cmake -S "$src" -B "$src/build" "${args[@]}" >"$logs/cmake-configure.log" 2>&1; then
		tail -30 "$logs/cmake-configure.log" >&2
		die "build: cmake configure failed (log: $logs/cmake-configure.log)"
	fi
	echo "${args[*]}" >"$src/build/.fleettwin-config"
	log "build: compiling llama-server with $jobs jobs (log: $logs/cmake-build.log)"
	if ! cmake --build "$src/build" --config Release --target llama-server -j "$jobs" >"$logs/cmake-build.log" 2>&1; then
		grep -E -m 20 'error|Error' "$logs/cmake-build.log" >&2 || tail -30 "$logs/cmake-build.log" >&2
		die "build: llama-server did not build (log: $logs/cmake-build.log)"
	fi
	"$server" --version >"$logs/llama-server-version.txt" 2>&1 || die "build: $server does not run: $(tail -3 "$logs/llama-server-version.txt")"
	log "build: $(grep -m1 '^version' "$logs/llama-server-version.txt")"
}

# gguf ARCH: the file a model's server loads, as the plan names it.
gguf() { echo "$work/models/$1-$format.gguf"; }

models() {
	need_carry
	local m need_kb=0 pids=() rc=0 i wrote=()
	for m in "${models[@]}"; do
		[[ -f $(gguf "$m") ]] && continue
		case $m in
		qwen3-14b) need_kb=$((need_kb + 16 * 1024 * 1024)) ;;
		qwen3-8b) need_kb=$((need_kb + 9 * 1024 * 1024)) ;;
		*) need_kb=$((need_kb + 3 * 1024 * 1024)) ;;
		esac
	done
	local free_kb
	free_kb=$(df -Pk "$work/models" | awk 'NR == 2 { print $4 }')
	((free_kb > need_kb)) || die "models: $((need_kb / 1024 / 1024)) GiB needed in $work/models, $((free_kb / 1024 / 1024)) GiB free"
	for i in "${!models[@]}"; do
		m=${models[$i]}
		if [[ -f $(gguf "$m") ]]; then
			log "models: $(gguf "$m") is written already"
			continue
		fi
		log "models: writing $m ($format, seed $((i + 1)), random weights)"
		(
			t0=$SECONDS
			"$fleettwin" randmodel --model "$m" --format "$format" --seed $((i + 1)) --out "$(gguf "$m").tmp" >"$logs/randmodel-$m.log" 2>&1
			mv "$(gguf "$m").tmp" "$(gguf "$m")"
			bytes=$(stat -c %s "$(gguf "$m")")
			dt=$((SECONDS - t0))
			echo "randmodel $m: $bytes bytes in $dt s ($((bytes / 1048576 / (dt > 0 ? dt : 1))) MiB/s)" >>"$logs/randmodel-$m.log"
		) &
		pids+=($!)
		wrote+=("$logs/randmodel-$m.log")
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || rc=$?
	done
	((${#wrote[@]} == 0)) || cat "${wrote[@]}" >&2
	((rc == 0)) || die "models: randmodel failed (logs: $logs/randmodel-*.log)"
}

# cpu_plan GPU_PLAN: the GPU plan rewritten for the CPU: two small models,
# one thread per server, two slots, time-slice only, a short grid. Every
# rewrite is checked, so a change to the GPU plan that breaks one fails
# here rather than silently running something else.
cpu_plan() {
	sed -e 's/^name = "gpu-qwen3-8b-14b-llamacpp"/name = "cpu-smoke-qwen3-llamacpp"/' \
		-e 's/^hardware = "h200"/hardware = "cpu-host"/' \
		-e 's/^sharing = .*/sharing = ["time-slice"]/' \
		-e '/^mps_active_thread_pct/d' \
		-e 's/qwen3-8b/qwen3-0.6b/g; s/qwen3-14b/qwen3-1.7b/g' \
		-e 's/"--threads", "8"/"--threads", "1"/' \
		-e 's/"--ctx-size", "8192", "--parallel", "8"/"--ctx-size", "1024", "--parallel", "2"/' \
		-e 's/^max_seqs = 8\b/max_seqs = 2/' \
		-e '/^\[experiments\]/,$d' "$1"
	cat <<-'EOF'
		[experiments]
		concurrency = [1, 2]
		inputs = [32]
		outputs = [8]
		requests = 2
		rates = [0.5]
		rate_requests = 2
		sustained_s = 0
		holdout_every = 2
		passes = 1
	EOF
}

# no_mps_plan GPU_PLAN: the plan with time-slice only, for a GPU machine
# without nvidia-cuda-mps-control.
no_mps_plan() {
	sed -e 's/^sharing = .*/sharing = ["time-slice"]/' -e '/^mps_active_thread_pct/d' "$1"
}

# expect FILE PATTERN COUNT WHAT: the plan rewrite left COUNT lines matching.
expect() {
	local n
	n=$(grep -c -e "$2" "$1" || true)
	[[ $n == "$3" ]] || die "calibrate: rewriting $gpu_plan for this machine: $4 (expected $3 lines matching '$2', found $n); update cpu_plan in $0"
}

# calibrate [resume]: a new run of the plan, or with resume the run the
# last calibrate on this machine left unfinished (--resume).
calibrate() {
	need_carry
	local prev
	prev=$(cat "$work/last-run" 2>/dev/null || true)
	rm -f "$work/last-run"
	local plan=$root/$gpu_plan extra=() name
	if ((gpu)); then
		if ! command -v "${MPS_CONTROL:-nvidia-cuda-mps-control}" >/dev/null; then
			log "calibrate: no nvidia-cuda-mps-control on PATH: running time-slice only (MPS skipped)"
			plan=$work/plan-time-slice.toml
			no_mps_plan "$root/$gpu_plan" >"$plan"
			expect "$plan" '^mps_active_thread_pct' 0 "mps_active_thread_pct left"
		fi
	else
		log "calibrate: CPU mode: MPS needs an NVIDIA GPU and its daemon: skipped, time-slice only"
		plan=$work/plan-cpu.toml
		cpu_plan "$root/$gpu_plan" >"$plan"
		expect "$plan" '^name = "cpu-smoke-qwen3-llamacpp"' 1 "the plan's name"
		expect "$plan" '^hardware = "cpu-host"' 1 "the hardware"
		expect "$plan" '^sharing = \["time-slice"\]' 1 "the sharing modes"
		expect "$plan" 'qwen3-8b\|qwen3-14b' 0 "a model name left"
		expect "$plan" '"--threads", "1"' 2 "the threads"
		expect "$plan" '"--parallel", "2"' 2 "the slots"
		expect "$plan" '^max_seqs = 2\b' 2 "the models' max_seqs"
		expect "$plan" '^\[experiments\]' 1 "the [experiments] table"
		extra=(--catalog "$cpu_catalog")
	fi
	name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$plan" | head -1) # the plan's; servers' names follow
	[[ -x $server ]] || die "calibrate: no $server: run the build step first (scripts/gpu-calibration.sh run build)"
	local built=cpu
	grep -q -- '-DGGML_CUDA=ON' "$src/build/.fleettwin-config" 2>/dev/null && built=cuda
	[[ $built == "$( ((gpu)) && echo cuda || echo cpu)" ]] ||
		die "calibrate: $server is a $built build, and this run is on the $( ((gpu)) && echo GPU || echo CPU): run the build step again"
	local m
	for m in "${models[@]}"; do
		[[ -f $(gguf "$m") ]] || die "calibrate: no $(gguf "$m"): run the models step first (scripts/gpu-calibration.sh run models)"
		grep -q "${work#"$root"/}/models/$m-$format.gguf" "$plan" || die "calibrate: the plan does not load $(gguf "$m")"
	done
	local budget=0
	if ((deadline > 0)); then
		budget=$((deadline - SECONDS - 30)) # 30 s to collect
		((budget >= ${FT_GPUCAL_MIN_CALIBRATE_S:-60})) || die "calibrate: $((deadline - SECONDS)) s left before the deadline (FT_GPUCAL_DEADLINE_S=$deadline): too little to calibrate (run calibrate in a call of its own, or raise FT_GPUCAL_DEADLINE_S)"
		log "calibrate: $budget s left for the run (deadline $deadline s from the start)"
	fi
	if ((gpu)); then
		nvidia-smi --query-gpu=name,memory.used,memory.total,temperature.gpu,power.draw,clocks.sm --format=csv >"$logs/nvidia-smi-before.csv" 2>&1 || true
	fi
	mkdir -p "$runs"
	local marker=$work/.calibrate-start rc=0 args
	if [[ ${1:-} == resume ]]; then
		[[ -n $prev && -d $prev ]] || die "calibrate: no run to resume on this machine (the last calibrate left '${prev:-nothing}')"
		args=(calibrate run --resume "$prev" "${extra[@]}")
	else
		args=(calibrate run "$plan" --runs "$runs" "${extra[@]}")
	fi
	touch "$marker"
	log "calibrate: fleettwin ${args[*]} (log: $logs/calibrate.log)"
	echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) fleettwin ${args[*]}" >>"$logs/calibrate.log"
	(
		cd "$root"
		if ((budget > 0)); then
			timeout --foreground --signal=TERM --kill-after=30 "$budget" "$fleettwin" "${args[@]}"
		else
			"$fleettwin" "${args[@]}"
		fi
	) >>"$logs/calibrate.log" 2>&1 || rc=$?
	if [[ ${1:-} == resume ]]; then
		run_dir=$prev
	else
		run_dir=$(find "$runs" -mindepth 1 -maxdepth 1 -type d -name "*-$name" -newer "$marker" | sort | tail -1)
	fi
	echo "$run_dir" >"$work/last-run"
	# The run quits its MPS daemon; after a kill it may not have.
	if [[ -n $run_dir && -S $run_dir/mps/pipe/control ]] && command -v "${MPS_CONTROL:-nvidia-cuda-mps-control}" >/dev/null; then
		log "calibrate: quitting the MPS daemon the run left (pipes in $run_dir/mps/pipe)"
		echo quit | CUDA_MPS_PIPE_DIRECTORY=$run_dir/mps/pipe timeout 30 "${MPS_CONTROL:-nvidia-cuda-mps-control}" >/dev/null 2>&1 || true
	fi
	if ((gpu)); then
		nvidia-smi --query-gpu=name,memory.used,memory.total,temperature.gpu,power.draw,clocks.sm --format=csv >"$logs/nvidia-smi-after.csv" 2>&1 || true
	fi
	tail -5 "$logs/calibrate.log" >&2
	case $rc in
	0) log "calibrate: run folder $run_dir" ;;
	124 | 137) log "calibrate: stopped at the deadline ($budget s); what it measured is in ${run_dir:-no run folder}; to finish it on this machine: scripts/gpu-calibration.sh run resume" ;;
	*) log "calibrate: fleettwin calibrate run failed ($rc); run folder: ${run_dir:-none}" ;;
	esac
	return "$rc"
}

versions() {
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "mode: $( ((gpu)) && echo gpu || echo cpu)"
	echo "host: $(uname -srm); $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)); $(free -g | awk '/^Mem:/ { print $2 " GiB memory" }'); $(df -Ph "$work" | awk 'NR == 2 { print $4 " free on " $6 }')"
	if ((gpu)); then
		echo "gpu: $(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
		local nvcc
		nvcc=$(command -v nvcc || find /usr/local/cuda*/bin -maxdepth 1 -name nvcc 2>/dev/null | head -1 || true)
		echo "nvcc: ${nvcc:-none}${nvcc:+ ($("$nvcc" --version | tail -1))}"
		echo "mps control: $(command -v "${MPS_CONTROL:-nvidia-cuda-mps-control}" || echo none)"
	fi
	echo "cmake: $(cmake --version 2>/dev/null | head -1)"
	echo "ninja: $(ninja --version 2>/dev/null || echo none)"
	echo "c++: $( (c++ --version || g++ --version) 2>/dev/null | head -1)"
	echo "llama-server: $(grep -m1 '^version' "$logs/llama-server-version.txt" 2>/dev/null || echo 'not built')"
	echo "carried (.cache/gpu-carry/MANIFEST.txt):"
	sed 's/^/  /' "$carry/MANIFEST.txt" 2>/dev/null || echo "  none"
}

collect() {
	local dest=$OUT/gpu-calibration run_dir f
	mkdir -p "$dest"
	run_dir=$(cat "$work/last-run" 2>/dev/null || true)
	versions >"$logs/versions.txt" 2>&1 || true
	if ((gpu)); then
		nvidia-smi -q >"$dest/nvidia-smi-q.txt" 2>&1 || true
		cp "$dest/nvidia-smi-q.txt" "$logs/" 2>/dev/null || true
	fi
	rm -f "$dest/run.tar.gz"
	if [[ -n $run_dir && -d $run_dir ]]; then
		tar -C "$(dirname "$run_dir")" -czf "$dest/run.tar.gz" "$(basename "$run_dir")" || true
	fi
	[[ -f $logs/calibrate.log ]] && cp "$logs/calibrate.log" "$dest/calibrate.log"
	tar -C "$work" -czf "$dest/logs.tar.gz" logs || true
	{
		echo "# scripts/gpu-calibration.sh run $step: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo
		echo "## steps (wall time; every call on this machine, oldest first)"
		cat "$timings" 2>/dev/null || echo "none"
		echo
		echo "## run folder"
		if [[ -n $run_dir && -d $run_dir ]]; then
			echo "$run_dir -> run.tar.gz"
			ls -l "$run_dir"
			echo
			if ((gpu)); then
				echo "next, here: mkdir -p runs && tar -xzf run.tar.gz -C runs && fleettwin calibrate fit runs/$(basename "$run_dir") --out profiles/h200.llama.cpp.toml"
			else
				echo "next: fleettwin calibrate fit $run_dir --catalog $cpu_catalog --out /tmp/cpu-smoke.llama.cpp.toml"
			fi
		else
			echo "none (calibrate did not run or made no folder)"
		fi
		echo
		echo "## versions"
		cat "$logs/versions.txt"
		for f in cmake-configure cmake-build; do
			if [[ -f $logs/$f.log ]]; then
				echo
				echo "## $f.log (last 10 lines)"
				tail -10 "$logs/$f.log"
			fi
		done
		if [[ -f $logs/calibrate.log ]]; then
			echo
			echo "## calibrate.log (last 40 lines)"
			tail -40 "$logs/calibrate.log"
		fi
	} >"$dest/summary.txt" 2>&1
	for f in "$dest"/*; do
		(($(stat -c %s "$f") <= 16 * 1024 * 1024)) || log "collect: warning: $f is over the 16 MiB the device tool brings back"
	done
	log "collect: wrote $dest: $(cd "$dest" && echo *)"
}

run() {
	resolve_mode
	if [[ -z ${OUT:-} ]]; then
		OUT=$(mktemp -d /tmp/gpu-calibration-out.XXXXXX)
		log "OUT is not set: writing to $OUT"
	fi
	echo "=== run $step ($( ((gpu)) && echo gpu || echo cpu)), $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$timings"
	log "run $step on the $( ((gpu)) && echo GPU || echo CPU) (work in $work, runs in $runs, out in $OUT)"
	if [[ $step != collect ]]; then
		trap 'timed collect collect' EXIT
	fi
	case $step in
	build) timed build build ;;
	models) timed models models ;;
	setup) setup ;;
	calibrate) timed calibrate calibrate ;;
	resume) timed calibrate calibrate resume ;;
	collect) timed collect collect ;;
	all)
		setup
		((step_rc == 0)) || exit "$step_rc"
		timed calibrate calibrate
		;;
	esac
	exit "$step_rc"
}

# setup: the models are written (one thread each) while the build runs.
setup() {
	(
		timed models models
		exit "$step_rc"
	) >"$logs/models.out" 2>&1 &
	local mp=$! brc mrc
	timed build build
	brc=$step_rc
	set +e
	wait "$mp"
	mrc=$?
	set -e
	cat "$logs/models.out" >&2
	((brc == 0)) || log "build failed: nothing to calibrate"
	((mrc == 0)) || log "models failed: nothing to calibrate"
	step_rc=$((brc != 0 ? brc : mrc))
}

case $cmd in
prepare) prepare ;;
run) run ;;
esac
