// Package scenario reads the TOML files that describe what to simulate: a
// fleet of nodes with model instances on them, the traffic each served model
// receives, its SLOs, and how long to run. Parsing is strict: an unknown key,
// an unknown model or hardware name, or models that do not fit in a node's
// memory is an error naming the file, line and field (and, for memory, by
// how much). Each problem is a tomlcheck.Error whose Kind a caller tests
// (tomlcheck.Has): NoFit when the models do not fit, NotFound for a name
// that names nothing.
//
// A File is the document as written (it round-trips to TOML); a Scenario is
// a File resolved against the catalog and the profiles, ready to simulate.
package scenario

import (
	"bytes"
	"fmt"
	"math"

	"github.com/BurntSushi/toml"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/workload"
)

// File is a scenario document as written in TOML.
type File struct {
	Name        string  `toml:"name"`
	Description string  `toml:"description,omitempty"`
	Seed        uint64  `toml:"seed"`
	DurationS   float64 `toml:"duration_s"`
	WarmupS     float64 `toml:"warmup_s"`
	// SeriesResolutionS is the width of one time-series bin; 0 picks
	// duration / 360.
	SeriesResolutionS float64 `toml:"series_resolution_s,omitempty"`
	// Router is the default policy that spreads a served model's requests
	// over its instances: one of Routers; empty means DefaultRouter.
	Router Router                 `toml:"router,omitempty"`
	Site   *Site                  `toml:"site,omitempty"`
	Cost   *Cost                  `toml:"cost,omitempty"`
	Models map[string]ServedModel `toml:"models"`
	Nodes  []NodeGroup            `toml:"nodes"`
	// Network is the link between nodes that disaggregated prefill ships
	// KV over (scenario/disagg.go); nil means DefaultNetwork.
	Network *Network `toml:"network,omitempty"`
}

// Site is where the fleet runs: the room's temperature and what power
// costs there. Unset fields take the defaults in DefaultSite.
type Site struct {
	AmbientC             float64 `toml:"ambient_c,omitempty"`
	ElectricityUSDPerKWh float64 `toml:"electricity_usd_per_kwh,omitempty"`
	// PUE is the facility's power usage effectiveness: watts at the meter
	// per watt at the nodes.
	PUE float64 `toml:"pue,omitempty"`
}

// DefaultSite is a typical office or colocation room.
var DefaultSite = Site{AmbientC: 25, ElectricityUSDPerKWh: 0.15, PUE: 1.3}

// Cost says how the hardware is paid for. Unset fields take the defaults
// in DefaultCost.
type Cost struct {
	// Pricing is one of Pricings: "own" (buy, amortize, pay for power and
	// hosting) or "cloud" (rent each device by the hour).
	Pricing           Pricing `toml:"pricing,omitempty"`
	AmortizationYears float64 `toml:"amortization_years,omitempty"`
	// FinancingRate is the annual interest on the purchase; 0 spreads the
	// price evenly.
	FinancingRate      float64 `toml:"financing_rate,omitempty"`
	HostingUSDPerMonth float64 `toml:"hosting_usd_per_month,omitempty"` // per node: rack space, network
	SupportPctPerYear  float64 `toml:"support_pct_per_year,omitempty"`  // of the price, per year
}

// DefaultCost buys the hardware and writes it off over three years.
var DefaultCost = Cost{Pricing: PricingOwn, AmortizationYears: 3}

// ServedModel is one model as clients see it: its traffic and its SLOs. Its
// key in File.Models is the served name that instances refer to.
type ServedModel struct {
	Model    string        `toml:"model,omitempty"`  // catalog model; empty means the served name
	Router   Router        `toml:"router,omitempty"` // one of Routers; empty means the file's
	SLO      SLO           `toml:"slo"`
	Workload workload.Spec `toml:"workload"`
}

// Targets are latency limits in seconds; 0 means no limit.
type Targets struct {
	TTFTS float64 `toml:"ttft_s,omitempty"`
	TPOTS float64 `toml:"tpot_s,omitempty"`
	E2ES  float64 `toml:"e2e_s,omitempty"`
}

// SLO holds a served model's latency targets. A request meets the SLO when
// each of its latencies is within its target; Percentile says which
// percentile the aggregate check compares with the targets.
type SLO struct {
	TTFTS      float64            `toml:"ttft_s,omitempty"`
	TPOTS      float64            `toml:"tpot_s,omitempty"`
	E2ES       float64            `toml:"e2e_s,omitempty"`
	Percentile float64            `toml:"percentile,omitempty"` // default 95
	Attainment float64            `toml:"attainment,omitempty"` // share of requests that must meet the SLO; default 0.9
	Classes    map[string]Targets `toml:"classes,omitempty"`    // per priority class, replacing the model's targets
}

// Targets returns the model-wide targets.
func (s SLO) Targets() Targets { return Targets{TTFTS: s.TTFTS, TPOTS: s.TPOTS, E2ES: s.E2ES} }

// NodeGroup is Count identical nodes of one hardware type running the same
// instances.
type NodeGroup struct {
	Name     string `toml:"name"`
	Hardware string `toml:"hardware"`
	Engine   string `toml:"engine"`
	Count    int    `toml:"count"`
	// Memory is how co-located instances share the device's memory, one of
	// MemorySharings (empty means static): "static" gives each a fixed
	// share (two vLLM processes with gpu-memory-utilization each),
	// "dynamic" lets them draw KV blocks from one pool as they need them.
	Memory MemorySharing `toml:"memory,omitempty"`
	// MemoryFraction is the share of usable memory the engines may take in
	// all; 0 means the profile's.
	MemoryFraction float64 `toml:"memory_fraction,omitempty"`
	// Sharing is how the instances share the device's compute, one of
	// Sharings; empty means DefaultSharing (time-slice on a GPU).
	Sharing Sharing `toml:"sharing,omitempty"`
	// Interference slows co-located instances beyond the sharing of compute
	// and bandwidth: each busy neighbour adds this to the slowdown factor.
	// Unset, it is the profile's (fitted by calibration; 0 in priors).
	Interference *float64 `toml:"interference,omitempty"`
	// PowerCapW limits each device's power (nvidia-smi -pl); 0 means the
	// catalog's power limit.
	PowerCapW float64 `toml:"power_cap_w,omitempty"`
	// AmbientC is the air at these nodes' intake; 0 means the site's.
	AmbientC float64 `toml:"ambient_c,omitempty"`
	// ThermalResistanceCPerW is the cooling: higher is worse (a box in a
	// closed cabinet, a clogged filter); 0 means the catalog's.
	ThermalResistanceCPerW float64 `toml:"thermal_resistance_c_per_w,omitempty"`
	// PriceUSD and CloudUSDPerHour override the catalog's per device.
	PriceUSD        float64    `toml:"price_usd,omitempty"`
	CloudUSDPerHour float64    `toml:"cloud_usd_per_hour,omitempty"`
	Instances       []Instance `toml:"instances"`
	// Role makes the group's instances a prefill or a decode pool of
	// disaggregated serving (one of Roles, scenario/disagg.go); empty
	// means they do both.
	Role Role `toml:"role,omitempty"`
	// Autoscale, if set, lets the group hold between its min and max
	// nodes (scenario/autoscale.go); Count is then how many serve at the
	// start.
	Autoscale *Autoscale `toml:"autoscale,omitempty"`
	// PrefixCaching keeps KV blocks for reuse by later requests with the
	// same prefix (scenario/prefix.go); nil means on where the traffic
	// states a shared prefix.
	PrefixCaching *bool `toml:"prefix_caching,omitempty"`
}

// Instance is one model server process on a node.
type Instance struct {
	Model   string `toml:"model"`              // served name, a key of File.Models
	Quant   string `toml:"quant"`              // weight format
	KVCache string `toml:"kv_cache,omitempty"` // default fp16
	// MaxSeqs bounds the running batch (vLLM max_num_seqs, llama.cpp slots).
	MaxSeqs int `toml:"max_seqs,omitempty"`
	// MaxBatchedTokens bounds the tokens of one step (vLLM
	// max_num_batched_tokens); 0 means the profile's prefill chunk.
	MaxBatchedTokens int `toml:"max_batched_tokens,omitempty"`
	// ChunkedPrefill mixes prompt chunks with decode tokens in one step;
	// without it a step is all prefill (whole prompts) or all decode.
	ChunkedPrefill *bool `toml:"chunked_prefill,omitempty"`
	// ChunkTokens caps the prompt tokens one request prefills in one step
	// (vLLM long_prefill_token_threshold); 0 means the step's budget.
	ChunkTokens int `toml:"chunk_tokens,omitempty"`
	// MemoryFraction is this instance's share of usable memory under static
	// sharing; 0 splits the node's fraction evenly.
	MemoryFraction float64 `toml:"memory_fraction,omitempty"`
	BlockTokens    int     `toml:"block_tokens,omitempty"` // KV block size; default 16
	// Priority ranks the instance against the others on its device, lower
	// more urgent (as request classes): the sharing honours it where it
	// can (time-slice and one-process run the most urgent first, MPS gives
	// it the SMs and bandwidth it needs first; MIG needs none). Default 0.
	Priority int `toml:"priority,omitempty"`
	// MPSActiveThreadPct caps the instance's share of SMs under sharing =
	// "mps", as CUDA_MPS_ACTIVE_THREAD_PERCENTAGE does; 0 means 100.
	MPSActiveThreadPct float64 `toml:"mps_active_thread_pct,omitempty"`
	// MIG is the instance's partition under sharing = "mig", a profile of
	// the hardware's (e.g. "3g.40gb" on an H100).
	MIG string `toml:"mig,omitempty"`

	// Parallelism: the instance spans TP × PP devices of its node (tensor
	// and pipeline parallel), EP of them holding MoE experts apart (expert
	// parallel, within TP × PP), and DP identical replicas of it. 0 means 1.
	TP int `toml:"tp,omitempty"`
	PP int `toml:"pp,omitempty"`
	EP int `toml:"ep,omitempty"`
	DP int `toml:"dp,omitempty"`

	// Speculative is the instance's speculative decoding; nil for none.
	Speculative *Speculative `toml:"speculative,omitempty"`
	// Role overrides the group's role for this instance.
	Role Role `toml:"role,omitempty"`
	// PrefixCaching overrides the group's prefix caching for this
	// instance (scenario/prefix.go).
	PrefixCaching *bool `toml:"prefix_caching,omitempty"`
}

// Speculative is speculative decoding: a draft proposes tokens that one
// step of the target verifies.
type Speculative struct {
	// Method is "draft" (a smaller model, DraftModel), "eagle" or "mtp"
	// (heads built into or trained for the target).
	Method     string `toml:"method"`
	DraftModel string `toml:"draft_model,omitempty"` // catalog model, for method "draft"
	DraftQuant string `toml:"draft_quant,omitempty"` // its weight format; default the target's
	// ProposalTokens is how many tokens the draft proposes per step (k).
	ProposalTokens int `toml:"proposal_tokens"`
	// AcceptanceRate is the chance each proposed token is accepted (α, per
	// token, the workload's); the expected tokens per step follow from α and k.
	AcceptanceRate float64 `toml:"acceptance_rate"`
}

// Decode parses a scenario document without resolving names; errors name
// the file and line.
func Decode(name string, data []byte) (*File, toml.MetaData, error) {
	var f File
	md, err := tomlcheck.Decode(name, data, &f)
	if err != nil {
		return nil, md, err
	}
	return &f, md, nil
}

// Encode writes the document as TOML. A seed above TOML's integers (2^63 - 1)
// is refused: Parse could not read it back.
func (f *File) Encode() ([]byte, error) {
	if f.Seed > math.MaxInt64 {
		return nil, fmt.Errorf("encode scenario %q: seed %d is above TOML's largest integer (%d)", f.Name, f.Seed, int64(math.MaxInt64))
	}
	var b bytes.Buffer
	enc := toml.NewEncoder(&b)
	enc.Indent = "  "
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode scenario %q: %w", f.Name, err)
	}
	return b.Bytes(), nil
}
