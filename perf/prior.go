package perf

// Prior returns the starting profile for an engine on a device before any
// fit: datasheet peaks scaled by efficiencies typical of published
// measurements of that kind of engine. Default profiles for hardware nobody
// has calibrated yet are exactly these.
//
// Basis: batch-1 decode of dense models reaches 0.75-0.85 of peak bandwidth
// in tuned engines (vLLM, SGLang, TensorRT-LLM on H100; llama.cpp on the DGX
// Spark runs at about 0.8), MoE expert reads less; large prefill GEMMs reach
// 0.5-0.7 of dense peak in CUDA-graph engines and well under half in
// llama.cpp's quantized kernels; attention kernels and grouped expert GEMMs
// run below plain GEMMs.
func Prior(hardware, engine string) Profile {
	p := Profile{
		Hardware:       hardware,
		Engine:         engine,
		PrefillChunk:   8192, // vLLM V1 max_num_batched_tokens for the OpenAI server
		MemoryFraction: 0.9,  // vLLM --gpu-memory-utilization default
		Coefficients: Coefficients{
			PrefillComputeEff:   0.55,
			DecodeComputeEff:    0.35,
			ExpertComputeEff:    0.35,
			AttentionComputeEff: 0.4,
			WeightBandwidthEff:  0.8,
			ExpertBandwidthEff:  0.65,
			KVBandwidthEff:      0.6,
			StepOverheadS:       0.3e-3,
			SeqOverheadS:        10e-6,
		},
		Provenance: Provenance{
			Method: "datasheet",
			Source: "catalog peaks x typical published efficiencies of the engine (perf.Prior)",
		},
	}
	switch engine {
	case "llama.cpp", "ollama":
		p.PrefillChunk = 512 // llama-server and Ollama default n_ubatch
		p.MemoryFraction = 0.95
		p.Coefficients.PrefillComputeEff = 0.25
		p.Coefficients.DecodeComputeEff = 0.1
		p.Coefficients.ExpertComputeEff = 0.15
		p.Coefficients.AttentionComputeEff = 0.3
		p.Coefficients.WeightBandwidthEff = 0.78
		p.Coefficients.ExpertBandwidthEff = 0.65
		p.Coefficients.KVBandwidthEff = 0.5
		p.Coefficients.StepOverheadS = 0.5e-3
		p.Coefficients.SeqOverheadS = 50e-6
	}
	if engine == "ollama" {
		// server -> runner handoff, and runner/ollamarunner forms batch
		// N+1 while batch N computes; measured 5-10 ms on a CPU.
		p.AdmissionLagS = 0.005
	}
	switch engine {
	case "sglang", "tensorrt-llm":
		p.PrefillChunk = 8192
	}
	if hardware == "dgx-spark" && engine != "llama.cpp" && engine != "ollama" {
		// NVFP4 on GB10: published TensorRT-LLM prefill on the DGX Spark
		// reaches about a third of the 500 TFLOPS FP4 datasheet peak (issue
		// 13), not the 0.55 of bf16/fp8 GEMMs above: 0.33 / 0.55 = 0.6.
		p.Coefficients.FP4ComputeRel = 0.6
	}
	return p
}
