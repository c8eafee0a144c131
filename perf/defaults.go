package perf

import "strings"

// EngineDefaults are the batch and memory settings an engine picks for
// itself on a device when its command line sets none.
type EngineDefaults struct {
	MaxSeqs          int     // running sequences (vLLM max_num_seqs, SGLang max_running_requests, TRT-LLM max_batch_size, llama.cpp slots)
	MaxBatchedTokens int     // tokens one step may hold (vLLM max_num_batched_tokens, SGLang chunked_prefill_size, TRT-LLM max_num_tokens, llama.cpp n_ubatch)
	MemoryFraction   float64 // share of the device's memory for weights and KV cache
	BlockTokens      int     // tokens per KV block (page)
	ChunkedPrefill   bool    // long prompts split across steps by default
	Version          string  // the engine release the numbers are read from
	Source           string  // the file of the engine's code that sets them
}

// NormalizeEngine returns the canonical name of an engine: "trtllm" is
// TensorRT-LLM's own short name for itself (trtllm-serve, trtllm-bench).
func NormalizeEngine(name string) string {
	if strings.EqualFold(name, "trtllm") {
		return "tensorrt-llm"
	}
	return name
}

// DefaultsFor returns what engine sets for itself on a device named device
// with memoryGiB of memory, as its code at Version does. Engines whose
// defaults do not depend on the device return one row; an unknown engine
// returns false.
//
// Sources, read in each engine's repository at the version named:
//   - vLLM v0.11.0, vllm/engine/arg_utils.py (EngineArgs._set_default_args,
//     the V1 engine under the OpenAI API server): on a GPU with 70 GiB or
//     more that is not an A100, max_num_seqs 1024 and
//     max_num_batched_tokens 8192; otherwise 256 and 2048. Chunked prefill
//     is always on in V1. vllm/config/cache.py: gpu_memory_utilization 0.9,
//     block_size 16 on CUDA.
//   - SGLang v0.5.3.post3, python/sglang/srt/server_args.py
//     (ServerArgs._handle_gpu_memory_settings): chunked_prefill_size 2048
//     under 35 GiB, 4096 under 60 GiB, 8192 under 160 GiB, 16384 above;
//     mem_fraction_static is derived from the memory left for activations
//     and CUDA graphs, about 0.85 on an 80 GiB GPU at tp 1 (0.88 above 90
//     GiB); page_size 1; max_running_requests is bounded by the token pool
//     (the req_to_token pool holds at most 4096 requests); prefill batches
//     are not mixed with decodes unless --enable-mixed-chunk.
//   - TensorRT-LLM v1.2.0rc1, tensorrt_llm/llmapi/llm_args.py and
//     tensorrt_llm/commands/serve.py (trtllm-serve): max_batch_size 2048,
//     max_num_tokens 8192, enable_chunked_prefill false,
//     KvCacheConfig.free_gpu_memory_fraction 0.9 (of the memory free after
//     the weights load, so a little more of the whole device than 0.9),
//     tokens_per_block 32.
//   - llama.cpp b6918, common/common.h (common_params): n_parallel 4 slots
//     for llama-server (auto), n_batch 2048, n_ubatch 512; the KV cache is
//     allocated per token cell (block 1 in effect; the twin keeps 16).
//   - Ollama v0.12, envconfig/config.go and server/sched.go:
//     OLLAMA_NUM_PARALLEL 4 where memory allows it (1 otherwise), num_batch 512.
func DefaultsFor(engine, device string, memoryGiB float64) (EngineDefaults, bool) {
	switch NormalizeEngine(engine) {
	case "vllm":
		d := EngineDefaults{MaxSeqs: 256, MaxBatchedTokens: 2048, MemoryFraction: 0.9, BlockTokens: 16, ChunkedPrefill: true,
			Version: "v0.11.0", Source: "vllm/engine/arg_utils.py, vllm/config/cache.py"}
		if memoryGiB >= 70 && !strings.Contains(strings.ToLower(device), "a100") {
			d.MaxSeqs, d.MaxBatchedTokens = 1024, 8192
		}
		return d, true
	case "sglang":
		d := EngineDefaults{MaxSeqs: 4096, MaxBatchedTokens: 8192, MemoryFraction: 0.85, BlockTokens: 1, ChunkedPrefill: true,
			Version: "v0.5.3.post3", Source: "python/sglang/srt/server_args.py"}
		switch {
		case memoryGiB < 35:
			d.MaxBatchedTokens = 2048
		case memoryGiB < 60:
			d.MaxBatchedTokens = 4096
		case memoryGiB >= 160:
			d.MaxBatchedTokens = 16384
		}
		if memoryGiB > 90 {
			d.MemoryFraction = 0.88
		}
		return d, true
	case "tensorrt-llm":
		// enable_chunked_prefill is false in TensorRT-LLM, but its
		// in-flight batching mixes context and generation requests in one
		// step, which is the twin's chunked (mixed) mode; its non-chunked
		// mode is vLLM V0's prefill-only steps.
		return EngineDefaults{MaxSeqs: 2048, MaxBatchedTokens: 8192, MemoryFraction: 0.9, BlockTokens: 32, ChunkedPrefill: true,
			Version: "v1.2.0rc1", Source: "tensorrt_llm/llmapi/llm_args.py, tensorrt_llm/commands/serve.py"}, true
	case "llama.cpp":
		return EngineDefaults{MaxSeqs: 4, MaxBatchedTokens: 512, MemoryFraction: 0.95, BlockTokens: 16, ChunkedPrefill: true,
			Version: "b6918", Source: "common/common.h"}, true
	case "ollama":
		return EngineDefaults{MaxSeqs: 4, MaxBatchedTokens: 512, MemoryFraction: 0.95, BlockTokens: 16, ChunkedPrefill: true,
			Version: "v0.12", Source: "envconfig/config.go, server/sched.go"}, true
	}
	return EngineDefaults{}, false
}
