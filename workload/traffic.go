package workload

// SharedPrefix is a system prompt shared by part of a model's traffic:
// Share of the requests start with one of Groups prompts of Tokens tokens
// (a request's group is drawn uniformly), which a prefix cache can serve.
type SharedPrefix struct {
	Groups int     `toml:"groups"`
	Tokens int     `toml:"tokens"`
	Share  float64 `toml:"share"`
}

// Sessions makes a model's requests conversations: each arrival opens a
// session of Turns turns, each turn sent ThinkS (mean, exponential) after
// the previous answer and carrying the whole context so far.
type Sessions struct {
	Turns  Lengths `toml:"turns"`
	ThinkS float64 `toml:"think_s"`
}

// Thinking is the share of a model's requests answered in thinking mode,
// with their own output length (reasoning tokens count as output).
type Thinking struct {
	Share  float64 `toml:"share"`
	Output Lengths `toml:"output"`
}
