# fleettwin: `make run` starts the main job, `make test` runs every check CI runs.
# `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# Go lives in /usr/local/go on this project's machines; PATH may not say so.
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
# go-nvml's cgo wrappers call deprecated NVML functions; the warnings are noise.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations
BIN := bin/fleettwin
HARDWARE_WITH_VLLM := dgx-spark h100-sxm h200 b200 rtx-pro-6000 l40s
# GPU profiles carrying the MPS contentions fitted on a100-80gb/vllm (the one published MPS case)
SHARING_CARRIED := h100-sxm.vllm h100-sxm.sglang h100-sxm.tensorrt-llm a100-80gb.sglang a100-80gb.tensorrt-llm h200.vllm b200.vllm rtx-pro-6000.vllm l40s.vllm dgx-spark.vllm dgx-spark.llama.cpp dgx-spark.ollama
VLLM_SERVING_CARRIED := h200 b200 rtx-pro-6000 l40s a100-80gb # vLLM priors carrying h100-sxm's fitted [serving] terms

.DEFAULT_GOAL := help
.PHONY: help pgo run run-ollama build test test-go validate test-engine browser ollama lint vet fmt staticcheck bench generate check-go check-generated

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

check-go: ## fail early, and clearly, without a Go toolchain
	@command -v $(GO) >/dev/null || { echo "Go 1.26+ is required (expected in /usr/local/go/bin); see README"; exit 1; }

build: check-go ## build bin/fleettwin
	$(GO) build -o $(BIN) ./cmd/fleettwin

run: build ## the main job: the dashboard on 127.0.0.1:8080, starting with the seed claim live
	./$(BIN) serve --start $(or $(SCENARIO),seed-colocated.toml)

run-ollama: build ollama ## the dashboard of make run, with Ollama for the example calibration (calibration-plans/local-ollama.toml)
	./$(BIN) serve --start $(or $(SCENARIO),seed-colocated.toml) --ollama "$$(scripts/build-ollama.sh)"

test: lint check-generated test-go validate test-engine ## vet, gofmt, staticcheck, generated files current, then every test

test-go: check-go browser ## the Go tests (the real-engine ones skip themselves; test-engine runs them)
	FLEETTWIN_REQUIRE_BROWSER=1 $(GO) test -count=1 ./...

# The twin against the published figures it was never fitted on
# (docs/validation.md). The bars guard against regressions; they are NOT
# issue 13's goal (8% median, 25% max): measured 2026-12-01 on the 66 rows
# that run, median 24.5%, max 631.5% (a100 vLLM ShareGPT burst TTFT), so
# the bars are those plus a margin. Tighten them as the fits improve.
VALIDATE_MAX_MEDIAN ?= 27
VALIDATE_MAX_ROW ?= 700
validate: build ## reproduce testdata/validation/*.csv in the twin; fail above the bars
	./$(BIN) validate testdata/validation/*.csv --quiet --max-median $(VALIDATE_MAX_MEDIAN) --max-row $(VALIDATE_MAX_ROW)

browser: ## Debian's Chromium for the dashboard's browser test (apt, once)
	@command -v chromium >/dev/null || scripts/install-chromium.sh

# The calibrations against a real Ollama run on their own, one package at a
# time (-p 1), after the other tests: they measure latency, and other test
# binaries on the same cores would be measured with them.
test-engine: ollama ## build Ollama (cached), then calibrate against it on this CPU
	FLEETTWIN_OLLAMA=$$(scripts/build-ollama.sh) $(GO) test -count=1 -p 1 -v -run 'Ollama' ./calibrate/... ./web/... | grep -E -v '^=== (RUN|PAUSE|CONT)'

ollama: ## build Ollama from the Go module proxy, CPU only, cached in .cache/ollama
	@scripts/build-ollama.sh >/dev/null

lint: vet fmt staticcheck ## go vet, gofmt and staticcheck

vet: check-go
	$(GO) vet ./...

fmt: check-go
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

staticcheck: check-go ## pinned in go.mod as a tool, built from the module proxy
	$(GO) tool staticcheck ./...

bench: check-go ## every benchmark; compare runs with benchstat (see README)
	$(GO) test -run '^$$' -bench . -benchmem -count $${COUNT:-1} ./...

pgo: check-go ## refresh cmd/fleettwin/default.pgo (profile-guided optimisation) from the simulator's benchmarks
	$(GO) test -run '^$$' -bench 'OneInstance$$|SeedColocated$$|Fleet100$$' -benchtime 8x -cpuprofile cmd/fleettwin/default.pgo -o /tmp/fleettwin-sim.test ./sim/

generate: build ## regenerate the templ components and the built-in profiles
	$(GO) tool templ generate -path web
	./$(BIN) profile fit --data testdata/published/published-serving.csv --hardware dgx-spark --engine llama.cpp --chunk 2048 --kv fp16 --hold-out 'q4km-pp8192$$' --check perf/testdata/validation-dgx-spark.csv --fix attention_depth --with serial_fraction --with expert_overlap --with multi_seq_expert_pass --out profiles/dgx-spark.llama.cpp.toml
	./$(BIN) profile prior --hardware dgx-spark --engine vllm --check testdata/published/published-serving.csv --out profiles/dgx-spark.vllm.toml
	./$(BIN) profile fit-serving --data testdata/published/published-serving.csv --hardware h100-sxm --engine tensorrt-llm --date 2026-12-01 --cross-validate --out profiles/h100-sxm.tensorrt-llm.toml
	for e in vllm sglang; do ./$(BIN) profile fit-serving --data testdata/published/published-serving.csv --hardware h100-sxm --engine $$e --date 2026-12-01 --formats-from profiles/h100-sxm.tensorrt-llm.toml --cross-validate --out profiles/h100-sxm.$$e.toml; done
	for hw in $(VLLM_SERVING_CARRIED); do ./$(BIN) profile fit-serving --carry-from profiles/h100-sxm.vllm.toml --hardware $$hw --engine vllm --out profiles/$$hw.vllm.toml; done
	for e in sglang tensorrt-llm; do ./$(BIN) profile fit-serving --carry-from profiles/h100-sxm.$$e.toml --hardware a100-80gb --engine $$e --out profiles/a100-80gb.$$e.toml; done
	./$(BIN) profile fit --data testdata/published/published-serving.csv --hardware dgx-spark --engine llama.cpp --chunk 2048 --kv fp16 --hold-out 'q4km-pp8192$$' --check perf/testdata/validation-dgx-spark.csv --fix attention_depth --with serial_fraction --with expert_overlap --with multi_seq_expert_pass --as ollama --out profiles/dgx-spark.ollama.toml
	./$(BIN) profile fit-sharing --data testdata/published/colocation.csv --dedicated testdata/published/colocation-dedicated.toml --profile profiles/a100-80gb.vllm.toml --out profiles/a100-80gb.vllm.toml
	for p in $(SHARING_CARRIED); do ./$(BIN) profile fit-sharing --carry-from profiles/a100-80gb.vllm.toml --profile profiles/$$p.toml --out profiles/$$p.toml; done
	./$(BIN) profile fit-speculative --data testdata/published/published-serving.csv --profile profiles/h100-sxm.sglang.toml --out profiles/h100-sxm.sglang.toml

check-generated: generate ## fail if `make generate` changes a committed file
	@if ! git diff --quiet -- profiles web; then echo "generated files are stale: run 'make generate' and commit"; git diff --stat -- profiles web; exit 1; fi
