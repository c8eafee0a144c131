package measure

import "strings"

// Kind is the experiment a row measured.
type Kind string

// The kinds of experiment, as MEASUREMENTS.md defines them.
const (
	// BenchPrefill: one sequence prefills input_tokens with depth_tokens
	// already cached (llama-bench -p N -d D).
	BenchPrefill Kind = "bench-prefill"
	// BenchDecode: one sequence generates output_tokens starting at context
	// depth_tokens (llama-bench -n N -d D).
	BenchDecode Kind = "bench-decode"
	// BatchedBench: concurrency sequences each prefill input_tokens, then
	// decode output_tokens together (llama-batched-bench).
	BatchedBench Kind = "batched-bench"
	// ClosedLoop: concurrency clients, no think time, requests in total
	// (vllm bench serve --max-concurrency C).
	ClosedLoop Kind = "closed-loop"
	// Burst: all requests arrive at once (vllm bench serve --request-rate inf).
	Burst Kind = "burst"
	// Poisson: Poisson arrivals at rate_rps for requests requests.
	Poisson Kind = "poisson"
	// ColocatedRatio: the metric of each of several instances sharing one
	// device (settings say how: sharing, instances, mps_sm_percent,
	// gpu_mem_util) divided by the same metric with a device each, under
	// the same load, which the row may not publish (colocation.csv).
	ColocatedRatio Kind = "colocated-ratio"
)

// Kinds lists every valid Kind, in the order MEASUREMENTS.md gives them.
var Kinds = []Kind{BenchPrefill, BenchDecode, BatchedBench, ClosedLoop, Burst, Poisson, ColocatedRatio}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return contains(Kinds, k) }

// Serving reports whether k is a served-traffic experiment (closed-loop,
// burst, poisson) rather than a bench of the engine's steps.
func (k Kind) Serving() bool { return k == ClosedLoop || k == Burst || k == Poisson }

// Metrics returns the metrics a row of kind k may report.
func (k Kind) Metrics() []Metric {
	switch k {
	case BenchPrefill:
		return []Metric{PrefillTPS}
	case BenchDecode:
		return []Metric{DecodeTPS}
	case BatchedBench:
		return []Metric{PrefillTPS, DecodeTPSAggregate}
	case ClosedLoop, Burst, Poisson:
		return ServingMetrics
	case ColocatedRatio:
		return RatioMetrics
	}
	return nil
}

// Metric is the figure a row reports.
type Metric string

// The metrics, as MEASUREMENTS.md defines them. Serving metrics follow
// `vllm bench serve`: times are what the client sees.
const (
	PrefillTPS         Metric = "prefill_tps"          // prompt tokens (all sequences) / prefill time
	DecodeTPS          Metric = "decode_tps"           // generated tokens / decode time, one sequence
	DecodeTPSAggregate Metric = "decode_tps_aggregate" // generated tokens of all sequences / decode time
	TTFTMean           Metric = "ttft_ms_mean"         // mean time to first token
	TTFTP99            Metric = "ttft_ms_p99"          // 99th percentile time to first token
	TPOTMean           Metric = "tpot_ms_mean"         // per request (e2e - ttft) / (output - 1), then the mean
	ITLMean            Metric = "itl_ms_mean"          // mean gap between successive tokens
	E2EMean            Metric = "e2e_ms_mean"          // mean time from sent to last token
	OutputTPSAggregate Metric = "output_tps_aggregate" // all output tokens / (first sent to last completed)
	RequestRPS         Metric = "request_rps"          // completed requests / that time

	// Ratios shared / dedicated (colocated-ratio rows).
	TPOTP50Ratio    Metric = "tpot_p50_ratio_colocated"    // median TPOT
	TTFTP50Ratio    Metric = "ttft_p50_ratio_colocated"    // median TTFT
	OutputTPSRatio  Metric = "output_tps_ratio_colocated"  // output tokens/s
	RequestRPSRatio Metric = "request_rps_ratio_colocated" // completed requests/s
)

// Metrics lists every valid Metric.
var Metrics = []Metric{PrefillTPS, DecodeTPS, DecodeTPSAggregate, TTFTMean, TTFTP99, TPOTMean,
	ITLMean, E2EMean, OutputTPSAggregate, RequestRPS, TPOTP50Ratio, TTFTP50Ratio, OutputTPSRatio, RequestRPSRatio}

// RatioMetrics are the metrics of colocated-ratio rows.
var RatioMetrics = []Metric{TPOTP50Ratio, TTFTP50Ratio, OutputTPSRatio, RequestRPSRatio}

// ServingMetrics are the metrics of the serving kinds.
var ServingMetrics = []Metric{TTFTMean, TTFTP99, TPOTMean, ITLMean, E2EMean, OutputTPSAggregate, RequestRPS}

// Valid reports whether m is one of Metrics.
func (m Metric) Valid() bool { return contains(Metrics, m) }

// Unit is the unit a metric's value is published in: "tok/s", "ms" or
// "req/s".
func (m Metric) Unit() string {
	switch m {
	case PrefillTPS, DecodeTPS, DecodeTPSAggregate, OutputTPSAggregate:
		return "tok/s"
	case RequestRPS:
		return "req/s"
	case TTFTMean, TTFTP99, TPOTMean, ITLMean, E2EMean:
		return "ms"
	case TPOTP50Ratio, TTFTP50Ratio, OutputTPSRatio, RequestRPSRatio:
		return "ratio"
	}
	return ""
}

// Engines are the serving engines a row may name, after normalisation.
var Engines = []string{"llama.cpp", "ollama", "vllm", "sglang", "tensorrt-llm"}

// engineAliases maps other spellings to the names in Engines.
var engineAliases = map[string]string{"trtllm": "tensorrt-llm", "trt-llm": "tensorrt-llm", "llamacpp": "llama.cpp"}

// NormalizeEngine returns the name in Engines that engine spells (case and
// surrounding space ignored, aliases such as trtllm resolved) and whether it
// names one.
func NormalizeEngine(engine string) (string, bool) {
	e := strings.ToLower(strings.TrimSpace(engine))
	if a, ok := engineAliases[e]; ok {
		e = a
	}
	return e, contains(Engines, e)
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func join[T ~string](list []T) string {
	s := make([]string, len(list))
	for i, v := range list {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
