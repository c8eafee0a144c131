package workload

// TraceFormat is the format of a replayed trace file.
type TraceFormat string

// The trace formats ReadTrace's callers accept; empty is the project's own.
const (
	TraceAzure    TraceFormat = "azure"
	TraceBurstGPT TraceFormat = "burstgpt"
	TraceMooncake TraceFormat = "mooncake"
	TraceShareGPT TraceFormat = "sharegpt"
)

// TraceFormats lists the named formats.
var TraceFormats = []TraceFormat{TraceAzure, TraceBurstGPT, TraceMooncake, TraceShareGPT}
