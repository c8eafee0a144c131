package measure

import (
	"fmt"
	"sort"
	"strings"
)

// Row is one published figure and the conditions it was measured under:
// every column of the format, parsed. Blank numeric columns are 0, except
// TP, which is 1 when blank.
type Row struct {
	File string // the file it was read from
	Line int    // its line there

	ID       string
	Hardware string // catalog device
	Engine   string // one of Engines (trtllm is read as tensorrt-llm)
	Model    string // catalog model
	Quant    string // weight format
	KVCache  string // KV-cache dtype; "" = the engine's default
	TP       int    // tensor-parallel degree; 1 when blank
	Kind     Kind

	Concurrency  int     // sequences in the batch (bench kinds) or clients (closed-loop)
	Requests     int     // requests in the run (serving kinds)
	RateRPS      float64 // Poisson arrival rate (poisson only)
	InputTokens  int     // prompt tokens per request (mean when LengthCV > 0)
	OutputTokens int     // generated tokens per request (mean when LengthCV > 0)
	DepthTokens  int     // tokens cached before the measured prefill or decode (bench kinds)
	LengthCV     float64 // 0: fixed lengths; > 0: lognormal lengths with this coefficient of variation
	Settings     Settings

	Metric Metric
	Value  float64
	Unit   string
	Source string
	Notes  string
}

// Pos is where the row was read, "file:line".
func (r Row) Pos() string { return fmt.Sprintf("%s:%d", r.File, r.Line) }

// Experiment is what a row's figure was measured under: rows with equal
// Experiments are one run of the engine, reporting different metrics. It is
// comparable, so it keys a map.
type Experiment struct {
	Hardware, Engine, Model, Quant, KVCache string
	TP                                      int
	Kind                                    Kind
	Concurrency, Requests                   int
	RateRPS                                 float64
	InputTokens, OutputTokens, DepthTokens  int
	LengthCV                                float64
	Settings                                string // Settings.String()
}

// Experiment returns the experiment the row measured.
func (r Row) Experiment() Experiment {
	return Experiment{Hardware: r.Hardware, Engine: r.Engine, Model: r.Model, Quant: r.Quant, KVCache: r.KVCache,
		TP: r.TP, Kind: r.Kind, Concurrency: r.Concurrency, Requests: r.Requests, RateRPS: r.RateRPS,
		InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, DepthTokens: r.DepthTokens,
		LengthCV: r.LengthCV, Settings: r.Settings.String()}
}

// Setting is one key=value of a row's settings column.
type Setting struct{ Key, Value string }

// Settings are a row's engine settings that differ from the engine's
// defaults on that device, sorted by key; each key appears once.
type Settings []Setting

// Get returns the value of key and whether it is set.
func (s Settings) Get(key string) (string, bool) {
	i := sort.Search(len(s), func(i int) bool { return s[i].Key >= key })
	if i < len(s) && s[i].Key == key {
		return s[i].Value, true
	}
	return "", false
}

// String writes the settings in the column's form, key=value;key=value,
// keys sorted.
func (s Settings) String() string {
	var b strings.Builder
	for i, kv := range s {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(kv.Key)
		b.WriteByte('=')
		b.WriteString(kv.Value)
	}
	return b.String()
}

// ParseSettings parses key=value;key=value (blank: none). Keys are
// lower-case letters, digits and underscores; a key may appear once; a
// trailing ';' is allowed.
func ParseSettings(s string) (Settings, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out Settings
	for i, part := range strings.Split(strings.TrimSuffix(s, ";"), ";") {
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok:
			return nil, fmt.Errorf("setting %d (%q) is not key=value", i+1, part)
		case !validKey(k):
			return nil, fmt.Errorf("setting %d: key %q must be lower-case letters, digits and _", i+1, k)
		case v == "":
			return nil, fmt.Errorf("setting %s has no value", k)
		}
		if _, dup := out.find(k); dup {
			return nil, fmt.Errorf("setting %s is given twice", k)
		}
		out = append(out, Setting{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (s Settings) find(key string) (int, bool) {
	for i, kv := range s {
		if kv.Key == key {
			return i, true
		}
	}
	return 0, false
}

func validKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
