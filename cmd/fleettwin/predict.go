package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
)

// env holds what most commands load: the catalog and the profiles.
type env struct {
	cat      *catalog.Catalog
	profiles perf.ProfileSet
}

// loadEnv reads the built-in catalog plus any --catalog files, and the
// built-in profiles plus any --profile files.
func loadEnv(catalogs, profiles []string) (*env, error) {
	cat, err := catalog.Load(catalogs...)
	if err != nil {
		return nil, err
	}
	set, err := perf.DefaultProfiles()
	if err != nil {
		return nil, err
	}
	for _, path := range profiles {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("load profile: %w", err)
		}
		p, err := perf.ParseProfile(path, data)
		if err != nil {
			return nil, err
		}
		set.Add(p)
	}
	return &env{cat: cat, profiles: set}, nil
}

func runPredict(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("predict", "predict --hardware H --engine E --model M [--model M2 ...] --quant Q [flags]", stderr)
	var models, quants, catalogs, profiles stringList
	hardware := fs.String("hardware", "dgx-spark", "hardware or node type from the catalog (hgx-h100-8: 8 H100s on NVSwitch)")
	engine := fs.String("engine", "llama.cpp", "serving engine: "+strings.Join(perf.Engines, ", "))
	fs.Var(&models, "model", "model name (repeat, or comma-separate, for co-located models)")
	fs.Var(&quants, "quant", "weight format: one for all models, or one per model")
	kv := fs.String("kv", "fp16", "KV-cache type")
	batch := fs.Int("batch", 1, "sequences served together, per model")
	input := fs.Int("input", 2048, "prompt tokens per sequence")
	output := fs.Int("output", 128, "generated tokens per sequence")
	depth := fs.Int("depth", 0, "tokens already cached per sequence before the prompt")
	tp := fs.Int("tp", 1, "tensor-parallel degree: devices of the node type one model's layers are split over")
	pp := fs.Int("pp", 1, "pipeline-parallel degree: stages of the model's layers, each on tp devices")
	ep := fs.Int("ep", 1, "expert-parallel degree of a MoE model: devices of a stage its experts are spread over (divides tp)")
	asJSON := fs.Bool("json", false, "print JSON (fields documented in the README)")
	fs.Var(&catalogs, "catalog", "extra catalog TOML whose entries override the built-in ones (repeatable)")
	fs.Var(&profiles, "profile", "extra profile TOML, overriding the built-in one for its hardware and engine (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if len(models) == 0 {
		return usagef("at least one --model is required")
	}
	if len(quants) == 0 {
		quants = stringList{"q4_k_m"}
	}
	if len(quants) != 1 && len(quants) != len(models) {
		return usagef("give one --quant for all models or one per model (got %d for %d models)", len(quants), len(models))
	}
	e, err := loadEnv(catalogs, profiles)
	if err != nil {
		return err
	}
	req := predictRequest{Hardware: *hardware, Engine: *engine, KV: *kv, Models: models, Quants: quants,
		Workload: perf.Workload{Batch: *batch, Input: *input, Output: *output, Depth: *depth},
		Layout:   perf.Layout{TP: *tp, PP: *pp, EP: *ep}}
	rep, err := e.predict(req)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.writeText(stdout)
}

type predictRequest struct {
	Hardware, Engine, KV string
	Models, Quants       []string
	Workload             perf.Workload
	// Layout is the model's tp, pp and ep; the link is the node's.
	Layout perf.Layout
}

// PredictReport is the JSON output of `fleettwin predict --json`. Field names
// are stable; the README documents each. Times are seconds, sizes bytes.
type PredictReport struct {
	Hardware   string            `json:"hardware"`
	Node       *nodeInfo         `json:"node,omitempty"` // a node type's, or a layout over several devices
	Engine     string            `json:"engine"`
	Profile    profileInfo       `json:"profile"`
	Workload   workloadInfo      `json:"workload"`
	Models     []modelPrediction `json:"models"`
	Memory     memoryInfo        `json:"memory"`
	Contention *contentionInfo   `json:"contention,omitempty"`
}

type profileInfo struct {
	Method         string  `json:"method"`
	Source         string  `json:"source"`
	PrefillChunk   int     `json:"prefill_chunk"`
	MemoryFraction float64 `json:"memory_fraction"`
	// Label is the profile's provenance in one line (perf.Profile.Label);
	// Prior is true when nothing was fitted to measurements.
	Label   string      `json:"label"`
	Prior   bool        `json:"prior"`
	FitRows int         `json:"fit_rows"`
	Check   *perf.Check `json:"check,omitempty"`
	// CrossValidation is the fit's leave-one-experiment-out error.
	CrossValidation *perf.CrossCheck `json:"cross_validation,omitempty"`
}

type workloadInfo struct {
	Batch  int `json:"batch"`
	Input  int `json:"input_tokens"`
	Output int `json:"output_tokens"`
	Depth  int `json:"depth_tokens"`
}

type modelPrediction struct {
	Model                 string      `json:"model"`
	Quant                 string      `json:"quant"`
	KVCache               string      `json:"kv_cache"`
	Params                int64       `json:"params"`
	ActiveParams          int64       `json:"active_params"`
	PrefillTokensPerS     float64     `json:"prefill_tokens_per_s"`
	DecodeTokensPerSSeq   float64     `json:"decode_tokens_per_s_per_seq"`
	DecodeTokensPerSTotal float64     `json:"decode_tokens_per_s_aggregate"`
	TTFT                  float64     `json:"ttft_s"`
	TPOT                  float64     `json:"tpot_s"`
	E2E                   float64     `json:"e2e_s"`
	PrefillBound          string      `json:"prefill_bound"`
	DecodeBound           string      `json:"decode_bound"`
	WeightBytes           float64     `json:"weight_bytes"`
	KVBytesPerToken       float64     `json:"kv_bytes_per_token"`
	KVBytesNeeded         float64     `json:"kv_bytes_needed"`
	KVTokenCapacity       int64       `json:"kv_token_capacity"`
	Alone                 *aloneTimes `json:"alone,omitempty"`
	// DenseFormat and ExpertFormat are set when quant names a release that
	// quantizes only its routed experts (catalog expert_format): the
	// experts are in ExpertFormat (quant), every other weight in
	// DenseFormat.
	DenseFormat  string `json:"dense_format,omitempty"`
	ExpertFormat string `json:"expert_format,omitempty"`
	// FormatPriors are the instance's weight formats whose compute
	// efficiency the profile did not fit (perf.FormatPrior, in words).
	FormatPriors []string `json:"format_priors,omitempty"`
	// label is the instance's provenance line (perf.StepModel.Label).
	label string
}

type aloneTimes struct {
	TTFT float64 `json:"ttft_s"`
	TPOT float64 `json:"tpot_s"`
	E2E  float64 `json:"e2e_s"`
}

type memoryInfo struct {
	UsableBytes   float64 `json:"usable_bytes"`
	BudgetBytes   float64 `json:"budget_bytes"`
	WeightBytes   float64 `json:"weight_bytes"`
	KVBytesNeeded float64 `json:"kv_bytes_needed"`
	FreeBytes     float64 `json:"free_bytes"`
	Fits          bool    `json:"fits"`
}

// nodeInfo is the node type and the layout of a prediction over several
// devices. Memory figures are then over the layout's devices.
type nodeInfo struct {
	Type         string  `json:"type,omitempty"` // empty for a plain device
	Devices      int     `json:"devices"`
	Interconnect string  `json:"interconnect,omitempty"`
	TP           int     `json:"tp"`
	PP           int     `json:"pp"`
	EP           int     `json:"ep"`
	LayoutDevs   int     `json:"layout_devices"`
	DecodeCommS  float64 `json:"decode_comm_s"`  // collectives' seconds per decode step (exposed)
	PrefillCommS float64 `json:"prefill_comm_s"` // over the whole prefill
}

type contentionInfo struct {
	Rule            string  `json:"rule"`
	PrefillSlowdown float64 `json:"prefill_slowdown"`
	DecodeSlowdown  float64 `json:"decode_slowdown"`
}

// predict builds the report for a request.
func (e *env) predict(r predictRequest) (*PredictReport, error) {
	spec, err := e.cat.NodeSpec(r.Hardware)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	hw := spec.Hardware
	layout := r.Layout
	layout.Link = spec.Link
	if err := checkPredictLayout(spec, layout, len(r.Models), e.cat.NodeTypesOf(hw.Name)); err != nil {
		return nil, err
	}
	prof, err := e.profiles.Get(hw.Name, r.Engine)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	kv, err := e.cat.KVType(r.KV)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	rep := &PredictReport{
		Hardware: hw.Name,
		Engine:   prof.Engine,
		Profile:  newProfileInfo(prof),
		Workload: workloadInfo{Batch: r.Workload.Batch, Input: r.Workload.Input, Output: r.Workload.Output, Depth: r.Workload.Depth},
	}
	var models []*perf.StepModel
	var loads []perf.Workload
	for i, name := range r.Models {
		m, err := e.cat.Model(name)
		if err != nil {
			return nil, usageError{err.Error()}
		}
		q := r.Quants[0]
		if len(r.Quants) > 1 {
			q = r.Quants[i]
		}
		inst, err := e.instance(m, q, prof.Engine)
		if err != nil {
			return nil, err
		}
		inst.KV, inst.Layout = kv, layout
		for _, le := range perf.CheckLayout(m, layout) {
			return nil, usageError{fmt.Sprintf("--%s: %s", le.Field, le.Msg)}
		}
		sm, err := perf.NewStepModel(hw, inst, prof)
		if err != nil {
			return nil, err
		}
		models = append(models, sm)
		loads = append(loads, r.Workload)
	}
	co, err := perf.PredictColocated(models, loads)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	for i, p := range co.Predictions {
		inst := models[i].Instance()
		mp := modelPrediction{
			Model: inst.Model.Name, Quant: inst.ExpertFormat().Name, KVCache: inst.KV.Name,
			Params: inst.Model.Params(), ActiveParams: inst.Model.ActiveParams(),
			PrefillTokensPerS:     sig(p.PrefillTokensPerSec),
			DecodeTokensPerSSeq:   sig(p.DecodeTokensPerSecSeq),
			DecodeTokensPerSTotal: sig(p.DecodeTokensPerSecAll),
			TTFT:                  sig(p.TTFT), TPOT: sig(p.TPOT), E2E: sig(p.E2E),
			PrefillBound: p.Prefill.Bound(), DecodeBound: p.Decode.Bound(),
			WeightBytes: math.Round(p.Memory.WeightBytes), KVBytesPerToken: math.Round(p.Memory.KVBytesPerToken),
			KVBytesNeeded: math.Round(p.Memory.KVBytesNeeded), KVTokenCapacity: p.Memory.KVTokenCapacity,
		}
		mp.setFormats(models[i], prof)
		if len(models) > 1 {
			a := co.Alone[i]
			mp.Alone = &aloneTimes{TTFT: sig(a.TTFT), TPOT: sig(a.TPOT), E2E: sig(a.E2E)}
		}
		rep.Models = append(rep.Models, mp)
	}
	if spec.Devices > 1 || !layout.Trivial() {
		rep.Node = newNodeInfo(spec, layout, co.Predictions[0])
	}
	rep.Memory = memoryInfo{
		UsableBytes: math.Round(hw.UsableMemoryBytes() * float64(layout.Devices())), BudgetBytes: math.Round(co.Memory.BudgetBytes),
		WeightBytes: math.Round(co.Memory.WeightBytes), KVBytesNeeded: math.Round(co.Memory.KVBytesNeeded),
		FreeBytes: math.Round(co.Memory.FreeBytes), Fits: co.Memory.Fits,
	}
	if len(models) > 1 {
		rep.Contention = &contentionInfo{Rule: "demand-proportional sharing of compute and memory bandwidth, phases aligned (perf.PredictColocated)",
			PrefillSlowdown: sig(co.PrefillSlowdown), DecodeSlowdown: sig(co.DecodeSlowdown)}
	}
	return rep, nil
}

func newProfileInfo(p perf.Profile) profileInfo {
	info := p.Info()
	return profileInfo{Method: info.Method, Source: info.Source, PrefillChunk: p.PrefillChunk, MemoryFraction: p.MemoryFraction,
		Label: info.Label, Prior: info.Prior, FitRows: info.FitRows, Check: info.Check,
		CrossValidation: info.CrossValidation}
}

// sig rounds to 6 significant digits, so JSON output is stable across
// platforms whose floating-point results differ in the last bits.
func sig(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return r
}

func (r *PredictReport) writeText(w io.Writer) error {
	if n := r.Node; n != nil {
		name := r.Hardware
		if n.Type != "" {
			name = fmt.Sprintf("%s (%d × %s over %s)", n.Type, n.Devices, r.Hardware, dash(n.Interconnect))
		}
		fmt.Fprintf(w, "%s · engine %s\nlayout: tp %d · pp %d · ep %d on %d devices · collectives %s per decode step, %s in all of prefill\n",
			name, r.Engine, n.TP, n.PP, n.EP, n.LayoutDevs, seconds(n.DecodeCommS), seconds(n.PrefillCommS))
	} else {
		fmt.Fprintf(w, "%s · engine %s\n", r.Hardware, r.Engine)
	}
	fmt.Fprintf(w, "workload per model: batch %d · input %d · output %d · depth %d\n\n",
		r.Workload.Batch, r.Workload.Input, r.Workload.Output, r.Workload.Depth)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tQUANT\tPARAMS\tPREFILL tok/s\tDECODE tok/s/seq\tDECODE tok/s\tTTFT\tTPOT\tE2E\tBOUND prefill/decode")
	for _, m := range r.Models {
		params := fmt.Sprintf("%.2fB", float64(m.Params)/1e9)
		if m.ActiveParams != m.Params {
			params = fmt.Sprintf("%.1fB/%.2fB", float64(m.Params)/1e9, float64(m.ActiveParams)/1e9)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%.2f\t%.2f\t%s\t%s\t%s\t%s/%s\n", m.Model, m.Quant, params,
			m.PrefillTokensPerS, m.DecodeTokensPerSSeq, m.DecodeTokensPerSTotal,
			seconds(m.TTFT), seconds(m.TPOT), seconds(m.E2E), dash(m.PrefillBound), dash(m.DecodeBound))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range r.Models {
		if m.ExpertFormat != "" {
			fmt.Fprintf(w, "%s %s: routed experts in %s, every other weight in %s\n", m.Model, m.Quant, m.ExpertFormat, m.DenseFormat)
		}
	}
	if r.Contention != nil {
		fmt.Fprintf(w, "\nco-located: prefill %.2fx slower, decode %.2fx slower than alone (%s)\n",
			r.Contention.PrefillSlowdown, r.Contention.DecodeSlowdown, r.Contention.Rule)
		for _, m := range r.Models {
			fmt.Fprintf(w, "  %s alone: TTFT %s · TPOT %s · E2E %s\n", m.Model, seconds(m.Alone.TTFT), seconds(m.Alone.TPOT), seconds(m.Alone.E2E))
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMORY\tWEIGHTS\tKV/token\tKV needed\tKV capacity (tokens)")
	for _, m := range r.Models {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", m.Model, gib(m.WeightBytes), kib(m.KVBytesPerToken), gib(m.KVBytesNeeded), m.KVTokenCapacity)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fits := "yes"
	if !r.Memory.Fits {
		fits = fmt.Sprintf("NO: short by %s", gib(-r.Memory.FreeBytes))
	}
	_, err := fmt.Fprintf(w, "budget %s (%.2f of %s usable) · weights %s · KV needed %s · free %s · fits: %s\n",
		gib(r.Memory.BudgetBytes), r.Profile.MemoryFraction, gib(r.Memory.UsableBytes),
		gib(r.Memory.WeightBytes), gib(r.Memory.KVBytesNeeded), gib(r.Memory.FreeBytes), fits)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "\nprofile: %s\n", r.Profile.Label); err != nil {
		return err
	}
	for _, m := range r.Models {
		if len(m.FormatPriors) > 0 {
			fmt.Fprintf(w, "  %s: %s\n", m.Model, strings.TrimPrefix(m.label, r.Profile.Label+"; "))
		}
	}
	_, err = fmt.Fprintf(w, "  from: %s\n", r.Profile.Source)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// seconds formats a duration in seconds with a unit people read at a glance.
func seconds(s float64) string {
	switch {
	case s == 0:
		return "-"
	case s < 1:
		return fmt.Sprintf("%.1f ms", s*1e3)
	default:
		return fmt.Sprintf("%.2f s", s)
	}
}

func gib(b float64) string { return fmt.Sprintf("%.2f GiB", b/(1<<30)) }
func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/(1<<10)) }
