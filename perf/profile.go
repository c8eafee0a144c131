package perf

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/fleettwin/fleettwin"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// Coefficients are the fitted constants of the step-time model. Efficiencies
// are fractions of the datasheet peak in (0, 1]; overheads are seconds.
type Coefficients struct {
	PrefillComputeEff   float64 `toml:"prefill_compute_eff"`   // linear layers during prefill
	DecodeComputeEff    float64 `toml:"decode_compute_eff"`    // linear layers during decode (large batches)
	ExpertComputeEff    float64 `toml:"expert_compute_eff"`    // routed-expert GEMMs, any phase
	AttentionComputeEff float64 `toml:"attention_compute_eff"` // QK and PV
	WeightBandwidthEff  float64 `toml:"weight_bandwidth_eff"`  // streaming dense weights
	ExpertBandwidthEff  float64 `toml:"expert_bandwidth_eff"`  // reading the touched experts
	KVBandwidthEff      float64 `toml:"kv_bandwidth_eff"`      // reading and writing the KV cache
	StepOverheadS       float64 `toml:"step_overhead_s"`       // per step
	LayerOverheadS      float64 `toml:"layer_overhead_s"`      // per layer per step
	SeqOverheadS        float64 `toml:"seq_overhead_s"`        // per sequence per step
	// MultiSeqWeightPass is the extra time, in passes over the dense
	// weights at peak bandwidth, that a step of two or more tokens pays
	// (two sequences, or a prompt chunk): engines switch from
	// matrix-vector kernels (one token) to matrix-matrix kernels that are
	// slower at tiny batches (ggml on a CPU: a batch of 2 takes about 3x a
	// batch of 1), and the penalty grows with the weights. Optional in
	// files; 0 is none.
	MultiSeqWeightPass float64 `toml:"multi_seq_weight_pass"`
	// MultiSeqExpertPass is the same for the routed experts a step of two
	// or more tokens touches (ggml's mul_mat_id leaves its one-token
	// kernels too), in passes over those experts' bytes at peak bandwidth.
	// Optional; 0 = none (the model before it).
	MultiSeqExpertPass float64 `toml:"multi_seq_expert_pass,omitzero"`

	// The terms below came with issue 13; each is optional in files and 0
	// (or absent) reproduces the model before it. docs/performance-model.md
	// says what each rests on.

	// AttentionDepth is attention's slowdown with depth: attending at
	// context c costs (1/attention_compute_eff + attention_depth·c/32768)
	// times its FLOPs at peak (flash attention's KV tiles stream from memory
	// and its softmax rescaling grows with the context).
	AttentionDepth float64 `toml:"attention_depth,omitzero"`
	// ExpertGEMMS is seconds of compute per (expert, layer) a step touches:
	// a grouped expert GEMM pays a fixed cost per expert however few tokens
	// it routes there, so short MoE prefills run far below the GEMM rate.
	ExpertGEMMS float64 `toml:"expert_gemm_s,omitzero"`
	// KQuantComputeRel, FP4ComputeRel and FP8ComputeRel scale the
	// linear-layer compute efficiencies (prefill, decode, experts) for
	// weights of that family: llama.cpp's K-quants (q4_k_m, ...) run other
	// kernels than its int8-style q8_0/q4_0; FP4 formats (nvfp4, mxfp4) reach
	// a smaller share of their datasheet peak than bf16 does, and FP8 GEMMs
	// (with their per-tensor or per-block scaling and activation
	// quantization) a smaller share of the FP8 peak, twice bf16's on Hopper.
	// 0 = 1 (the same efficiency).
	KQuantComputeRel float64 `toml:"kquant_compute_rel,omitzero"`
	FP4ComputeRel    float64 `toml:"fp4_compute_rel,omitzero"`
	FP8ComputeRel    float64 `toml:"fp8_compute_rel,omitzero"`

	// SerialFraction is the share of the smaller of a step's compute and
	// memory times that does not overlap the larger: a step takes
	// max(c, m) + serial_fraction·min(c, m) + overheads. 0 = full overlap
	// (the model before it), 1 = compute and memory one after the other.
	// In [0, 1].
	SerialFraction float64 `toml:"serial_fraction,omitzero"`
	// ExpertOverlap is how much the tokens of one step share their routed
	// experts beyond independent draws: T tokens touch the distinct experts
	// 1 + (1 - expert_overlap)·(T - 1) independent tokens would (one token
	// still touches k, very many still all E). 0 = independent uniform
	// routing (the model before it). In [0, 1).
	ExpertOverlap float64 `toml:"expert_overlap,omitzero"`
}

// termNames are the TOML names of the coefficients, in term order.
var termNames = [numTerms]string{
	"prefill_compute_eff", "decode_compute_eff", "expert_compute_eff", "attention_compute_eff",
	"attention_depth", "expert_gemm_s",
	"weight_bandwidth_eff", "expert_bandwidth_eff", "kv_bandwidth_eff",
	"step_overhead_s", "layer_overhead_s", "seq_overhead_s", "multi_seq_weight_pass",
	"multi_seq_expert_pass",
}

// optionalTerms may be missing from a profile file (they came later; 0
// reproduces the model before them).
var optionalTerms = map[string]bool{
	"multi_seq_weight_pass": true, "attention_depth": true, "expert_gemm_s": true,
	"multi_seq_expert_pass": true,
}

// optInTerms are fitted only when a fit asks for them (FitOptions.With):
// every other fit holds them at the prior's 0, so profiles fitted before
// them (calibration's among them) keep their values. attention_depth is
// among them because a few rows without deep contexts cannot bound it: a
// calibration on a CPU fitted it to 2453 (nonsense) until it was opt-in.
var optInTerms = []string{"multi_seq_expert_pass", "attention_depth"}

// isEfficiency reports whether term i is an efficiency (its coefficient in
// the linear model is 1/efficiency) rather than an overhead in seconds or a
// factor.
func isEfficiency(i int) bool {
	return i < firstOverheadTerm && i != termAttentionDepth && i != termExpertGEMM
}

func (c Coefficients) values() [numTerms]float64 {
	return [numTerms]float64{
		c.PrefillComputeEff, c.DecodeComputeEff, c.ExpertComputeEff, c.AttentionComputeEff,
		c.AttentionDepth, c.ExpertGEMMS,
		c.WeightBandwidthEff, c.ExpertBandwidthEff, c.KVBandwidthEff,
		c.StepOverheadS, c.LayerOverheadS, c.SeqOverheadS, c.MultiSeqWeightPass,
		c.MultiSeqExpertPass,
	}
}

// withValues returns c with its term coefficients replaced by v (the format
// families' relative efficiencies, which are not terms, stay).
func (c Coefficients) withValues(v [numTerms]float64) Coefficients {
	c.PrefillComputeEff, c.DecodeComputeEff, c.ExpertComputeEff, c.AttentionComputeEff = v[0], v[1], v[2], v[3]
	c.AttentionDepth, c.ExpertGEMMS = v[4], v[5]
	c.WeightBandwidthEff, c.ExpertBandwidthEff, c.KVBandwidthEff = v[6], v[7], v[8]
	c.StepOverheadS, c.LayerOverheadS, c.SeqOverheadS, c.MultiSeqWeightPass = v[9], v[10], v[11], v[12]
	c.MultiSeqExpertPass = v[13]
	return c
}

func coefficientsFrom(v [numTerms]float64) Coefficients { return Coefficients{}.withValues(v) }

// vector returns the multipliers of the terms: 1/efficiency or seconds.
func (c Coefficients) vector() [numTerms]float64 {
	v := c.values()
	for i := range v {
		if isEfficiency(i) {
			v[i] = 1 / v[i]
		}
	}
	return v
}

// withVector returns c with its term coefficients set from multipliers x.
func (c Coefficients) withVector(x [numTerms]float64) Coefficients {
	for i := range x {
		if isEfficiency(i) {
			x[i] = 1 / x[i]
		}
	}
	return c.withValues(x)
}

func (c Coefficients) validate() error {
	var errs []error
	for i, v := range c.values() {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			errs = append(errs, fmt.Errorf("%s: not a number", termNames[i]))
		case isEfficiency(i) && (v <= 0 || v > 1):
			errs = append(errs, fmt.Errorf("%s: efficiency must be in (0, 1], got %v", termNames[i], v))
		case !isEfficiency(i) && v < 0:
			errs = append(errs, fmt.Errorf("%s: overhead must not be negative, got %v", termNames[i], v))
		}
	}
	for _, r := range c.rels() {
		if !(r.v >= 0 && r.v <= maxComputeRel) {
			errs = append(errs, fmt.Errorf("%s: must be in [0, %g], got %v", r.name, maxComputeRel, r.v))
		}
	}
	for _, sh := range c.shapes() {
		if !sh.ok() {
			errs = append(errs, fmt.Errorf("%s: must be in %s, got %v", sh.name, sh.bounds(), sh.v))
		}
	}
	return errors.Join(errs...)
}

// Profile holds the coefficients for one (hardware, engine) pair and the
// engine settings they were measured with.
type Profile struct {
	Hardware string `toml:"hardware"`
	Engine   string `toml:"engine"`
	// PrefillChunk is the most tokens one step processes (llama.cpp
	// n_ubatch, vLLM max_num_batched_tokens).
	PrefillChunk int `toml:"prefill_chunk"`
	// MemoryFraction is the share of usable memory the engine may take for
	// weights and KV cache (vLLM's gpu-memory-utilization).
	MemoryFraction float64 `toml:"memory_fraction"`
	// AdmissionLagS is how long a newly arrived request takes to reach
	// a busy engine's batch: request handling between the API server and
	// the runner, and batches formed while the previous one computes
	// (Ollama: about a step and a few milliseconds). The running batch
	// steps on meanwhile. 0 admits at the next step boundary (vLLM).
	AdmissionLagS float64      `toml:"admission_lag_s,omitzero"`
	Coefficients  Coefficients `toml:"coefficients"`
	// StdErr holds one standard error per fitted coefficient; 0 means the
	// coefficient was not fitted (a prior kept as is).
	StdErr Coefficients `toml:"stderr" tomlcheck:"nonfinite"`
	// Interference is the slowdown each busy co-located instance adds
	// beyond the sharing of compute and bandwidth (see sim); calibration
	// fits it from runs of models served together.
	Interference float64 `toml:"interference,omitzero"`
	// Sharing holds the coefficients of the ways co-located instances
	// share the device (time-slicing's switch cost, MPS's memory
	// contention; perf/sharing.go); nil uses DefaultSharing's priors.
	Sharing *Sharing `toml:"sharing,omitempty"`
	// Power and Thermal are fitted by calibration from telemetry; nil
	// where a profile has not been calibrated for them.
	Power   *Power   `toml:"power,omitempty"`
	Thermal *Thermal `toml:"thermal,omitempty"`
	// Parallel holds the coefficients of collectives between the devices
	// of an instance over several (perf/parallel.go); nil uses
	// DefaultParallel's priors.
	Parallel *Parallel `toml:"parallel,omitempty"`
	// Serving holds what a real server adds around the GPU steps (front
	// end, scheduler); nil where a profile models the steps alone.
	Serving *Serving `toml:"serving,omitempty"`
	// Speculative holds the coefficients of speculative decoding rounds
	// (perf/speculative.go); nil uses DefaultSpeculative's priors.
	Speculative *SpeculativeCoefficients `toml:"speculative,omitempty"`
	Provenance  Provenance               `toml:"provenance"`
	Rows        []FitRow                 `toml:"rows"`
}

// Power is a device's power curve: idle plus dynamic power in proportion
// to its activity (the utilization nvidia-smi reports, as a fraction).
type Power struct {
	IdleW          float64 `toml:"idle_w"`
	DynamicW       float64 `toml:"dynamic_w"` // at 100% activity
	IdleWStdErr    float64 `toml:"idle_w_stderr" tomlcheck:"nonfinite"`
	DynamicWStdErr float64 `toml:"dynamic_w_stderr" tomlcheck:"nonfinite"`
	Samples        int     `toml:"samples"`
	RMSEW          float64 `toml:"rmse_w"`
	// Scope is what the fitted watts measured (calibrate/telemetry's
	// power scopes), since the same curve means a different share of the
	// node on each: "board", a discrete card's total board power; "gpu-rail",
	// the GPU rail of a SoC such as GB10 (DGX Spark), without its CPU
	// cores, memory or the rest of the box; "host-rapl", the CPU packages'
	// RAPL counters. The twin draws IdleW + DynamicW·activity for the
	// device and adds the catalog's host_power_w (CPU, NIC, fans, supply
	// loss) for the rest of the node, so none of these counts that share
	// twice; a fit on wall power would. A gpu-rail curve also leaves out
	// the SoC's CPU and memory, which the catalog's GB10 figures include.
	// Empty: not recorded (fitted before scopes were).
	Scope string `toml:"scope,omitempty"`
}

// Thermal is a first-order RC model of the device temperature:
// C dT/dt = P − (T − ambient)/R, so T settles at ambient + R·P with time
// constant R·C.
type Thermal struct {
	ResistanceCPerW float64 `toml:"resistance_c_per_w"`
	CapacityJPerC   float64 `toml:"capacity_j_per_c"`
	AmbientC        float64 `toml:"ambient_c"`
	TimeConstantS   float64 `toml:"time_constant_s"`
	// ThrottleOnsetC is the lowest temperature at which the clocks were
	// seen cut for heat (thermal reasons only: a power cap is not the onset
	// of thermal throttling); 0 if never seen.
	ThrottleOnsetC float64 `toml:"throttle_onset_c"`
	Samples        int     `toml:"samples"`
	RMSEC          float64 `toml:"rmse_c"`
	// One standard error each (delta method on the regression's
	// covariance).
	ResistanceStdErr   float64 `toml:"resistance_c_per_w_stderr" tomlcheck:"nonfinite"`
	TimeConstantStdErr float64 `toml:"time_constant_s_stderr" tomlcheck:"nonfinite"`
	AmbientStdErr      float64 `toml:"ambient_c_stderr" tomlcheck:"nonfinite"`
}

// Engines are the serving engines fleettwin knows.
var Engines = []string{"vllm", "sglang", "tensorrt-llm", "llama.cpp", "ollama"}

// ParseProfile decodes and validates a profile; name is used in errors,
// a tomlcheck.ErrorList in the order the checks below find them.
func ParseProfile(name string, data []byte) (Profile, error) {
	var p Profile
	md, err := tomlcheck.Decode(name, data, &p)
	if err != nil {
		return p, err
	}
	errs := tomlcheck.NewErrors(name, data)
	errs.Unknown(md)
	p.Engine = NormalizeEngine(p.Engine)
	for _, k := range []string{"hardware", "engine", "prefill_chunk", "memory_fraction"} {
		if !md.IsDefined(k) {
			errs.AddKind(tomlcheck.Missing, []string{k}, "required field is missing")
		}
	}
	if p.Engine != "" && !slices.Contains(Engines, p.Engine) {
		errs.AddKind(tomlcheck.NotFound, []string{"engine"}, "unknown engine %q; valid: %s", p.Engine, strings.Join(Engines, ", "))
	}
	if md.IsDefined("prefill_chunk") && (p.PrefillChunk <= 0 || p.PrefillChunk > maxPrefillChunk) {
		errs.AddKind(tomlcheck.OutOfRange, []string{"prefill_chunk"}, "must be in [1, %d], got %d", maxPrefillChunk, p.PrefillChunk)
	}
	if md.IsDefined("memory_fraction") && (p.MemoryFraction <= 0 || p.MemoryFraction > 1) {
		errs.AddKind(tomlcheck.OutOfRange, []string{"memory_fraction"}, "must be in (0, 1], got %v", p.MemoryFraction)
	}
	vals := p.Coefficients.values()
	for i, n := range termNames {
		key := []string{"coefficients", n}
		if !md.IsDefined(key...) {
			if !optionalTerms[n] {
				errs.AddKind(tomlcheck.Missing, key, "required field is missing")
			}
			continue
		}
		v := vals[i]
		if isEfficiency(i) && !(v > 0 && v <= 1) {
			errs.AddKind(tomlcheck.OutOfRange, key, "efficiency must be in (0, 1], got %v", v)
		}
		if !isEfficiency(i) && !(v >= 0) {
			errs.AddKind(tomlcheck.OutOfRange, key, "overhead must not be negative, got %v", v)
		} else if !isEfficiency(i) && v > maxOverhead {
			errs.AddKind(tomlcheck.OutOfRange, key, "must be at most %g (a step term of more than a minute is no serving engine), got %v", maxOverhead, v)
		}
	}
	for _, r := range p.Coefficients.rels() {
		if !(r.v >= 0 && r.v <= maxComputeRel) {
			errs.AddKind(tomlcheck.OutOfRange, []string{"coefficients", r.name}, "must be in [0, %g] (0 = 1, the profile's own efficiency), got %v", maxComputeRel, r.v)
		}
	}
	for _, sh := range p.Coefficients.shapes() {
		if !sh.ok() {
			errs.AddKind(tomlcheck.OutOfRange, []string{"coefficients", sh.name}, "must be in %s (0 = the model before it), got %v", sh.bounds(), sh.v)
		}
	}
	if p.AdmissionLagS < 0 || p.AdmissionLagS > maxOverhead {
		errs.AddKind(tomlcheck.OutOfRange, []string{"admission_lag_s"}, "must be in [0, %g], got %v", maxOverhead, p.AdmissionLagS)
	}
	if p.Interference < 0 || p.Interference > maxInterference {
		errs.AddKind(tomlcheck.OutOfRange, []string{"interference"}, "must be in [0, %d], got %v", maxInterference, p.Interference)
	}
	p.checkPhysics(errs)
	if p.Sharing != nil {
		p.Sharing.check(md, errs)
	}
	if p.Serving != nil {
		p.Serving.check(errs)
	}
	if p.Parallel != nil {
		p.Parallel.check(md, errs)
	}
	if p.Speculative != nil {
		p.Speculative.check(md, errs)
	}
	if errs.Len() > 0 {
		// In the order found, as profiles have always reported them (not
		// sorted by line, as Err would).
		return p, errs.List
	}
	return p, nil
}

// EncodeProfile writes a profile as TOML with a header comment.
func EncodeProfile(p Profile, header string) ([]byte, error) {
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		b.WriteString("# " + line + "\n")
	}
	b.WriteString("\n")
	enc := toml.NewEncoder(&b)
	enc.Indent = ""
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode profile: %w", err)
	}
	return b.Bytes(), nil
}

// ProfileSet finds profiles by (hardware, engine).
type ProfileSet map[string]Profile

func profileKey(hardware, engine string) string { return hardware + "." + engine }

// DefaultProfiles returns the profiles built into the binary.
func DefaultProfiles() (ProfileSet, error) {
	return LoadProfiles(fleettwin.Profiles, "profiles")
}

// LoadProfiles reads every *.toml in dir of fsys. A file must be named
// <hardware>.<engine>.toml after the pair it holds.
func LoadProfiles(fsys fs.FS, dir string) (ProfileSet, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	set := ProfileSet{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".toml" {
			continue
		}
		p := path.Join(dir, e.Name())
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("load profiles: %w", err)
		}
		prof, err := ParseProfile(p, data)
		if err != nil {
			return nil, err
		}
		if want := profileKey(prof.Hardware, prof.Engine) + ".toml"; e.Name() != want {
			return nil, fmt.Errorf("%s: holds %s/%s, so it must be named %s", p, prof.Hardware, prof.Engine, want)
		}
		set.Add(prof)
	}
	return set, nil
}

// Add adds or replaces the profile for its (hardware, engine).
func (s ProfileSet) Add(p Profile) { s[profileKey(p.Hardware, p.Engine)] = p }

// Get returns the profile for (hardware, engine), or an error listing the
// pairs that have one.
func (s ProfileSet) Get(hardware, engine string) (Profile, error) {
	if p, ok := s[profileKey(hardware, engine)]; ok {
		return p, nil
	}
	var have []string
	for _, p := range s {
		have = append(have, p.Hardware+"/"+p.Engine)
	}
	slices.Sort(have)
	return Profile{}, fmt.Errorf("no profile for hardware %q with engine %q; profiles exist for: %s", hardware, engine, strings.Join(have, ", "))
}
