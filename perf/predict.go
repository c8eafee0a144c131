package perf

import (
	"fmt"
	"math"
)

// Workload is a batch of identical requests served together, the shape of
// `fleettwin predict` and of llama-bench style measurements.
type Workload struct {
	Batch  int // sequences served together
	Input  int // prompt tokens per sequence
	Output int // generated tokens per sequence (the first comes from prefill)
	Depth  int // tokens already in each sequence's KV cache before the prompt
}

// Bounds on a Workload, the same as a scenario's (65,536 sequences, 2²⁰
// tokens): prediction walks every prefill step and every decode token, so
// an unbounded batch or length is unbounded memory and time.
const (
	MaxBatch  = 1 << 16
	MaxTokens = 1 << 20
)

func (w Workload) validate() error {
	switch {
	case w.Batch < 1:
		return fmt.Errorf("batch must be at least 1, got %d", w.Batch)
	case w.Input < 0 || w.Output < 0 || w.Depth < 0:
		return fmt.Errorf("input, output and depth must not be negative (got %d, %d, %d)", w.Input, w.Output, w.Depth)
	case w.Input+w.Output == 0:
		return fmt.Errorf("input and output are both 0: nothing to predict")
	case w.Batch > MaxBatch:
		return fmt.Errorf("batch must be at most %d, got %d", MaxBatch, w.Batch)
	case w.Input > MaxTokens || w.Output > MaxTokens || w.Depth > MaxTokens:
		return fmt.Errorf("input, output and depth must be at most %d tokens each (got %d, %d, %d)", MaxTokens, w.Input, w.Output, w.Depth)
	}
	return nil
}

// PrefillSteps returns the steps that prefill batch prompts of input tokens
// each on top of depth cached tokens: the prompts are packed into steps of
// at most chunk tokens, in order, the way llama.cpp fills a ubatch and vLLM a
// token budget.
func PrefillSteps(batch, input, depth, chunk int) []Batch {
	if input <= 0 || batch <= 0 {
		return nil
	}
	var steps []Batch
	var cur Batch
	room := chunk
	for range batch {
		done := 0
		for done < input {
			n := min(room, input-done)
			cur.AddPrefill(n, depth+done)
			done += n
			room -= n
			if room == 0 {
				steps = append(steps, cur)
				cur, room = Batch{}, chunk
			}
		}
	}
	if cur.Tokens() > 0 {
		steps = append(steps, cur)
	}
	return steps
}

// DecodeSteps returns n decode steps of batch sequences whose context starts
// at context tokens and grows by one each step.
func DecodeSteps(batch, n, context int) []Batch {
	steps := make([]Batch, n)
	for i := range steps {
		for range batch {
			steps[i].AddDecode(context + i)
		}
	}
	return steps
}

// PhaseCost sums the costs of a run of steps.
type PhaseCost struct {
	Steps       int
	Seconds     float64
	Compute     float64 // Σ compute seconds
	Memory      float64 // Σ memory seconds
	Overhead    float64
	FLOPs       float64
	Bytes       float64
	Comm        float64 // Σ collectives' seconds, of Overhead (a layout over several devices)
	MemoryBound int     // steps where memory set the time
}

// Run sums the cost of steps.
func (s *StepModel) Run(steps []Batch) PhaseCost {
	var p PhaseCost
	for _, b := range steps {
		c := s.Step(b)
		p.Steps++
		p.Seconds += c.Seconds
		p.Compute += c.Compute
		p.Memory += c.Memory
		p.Overhead += c.Overhead
		p.FLOPs += c.FLOPs
		p.Bytes += c.Bytes
		p.Comm += c.Comm
		if c.MemoryBound() {
			p.MemoryBound++
		}
	}
	return p
}

// Bound names the resource that set most of the phase's steps: "compute",
// "memory", or "" for an empty phase.
func (p PhaseCost) Bound() string {
	switch {
	case p.Steps == 0:
		return ""
	case 2*p.MemoryBound >= p.Steps:
		return "memory"
	default:
		return "compute"
	}
}

// Prediction is what one workload costs on one instance.
//
// Definitions follow vLLM's benchmark names: TTFT is the time from the
// batch's arrival to its first token (the end of prefill: every prompt in
// the batch is prefilled before decoding starts); TPOT is the mean time per
// output token after the first, (E2E - TTFT) / (output - 1); E2E is the time
// to the last token.
type Prediction struct {
	Prefill PhaseCost
	Decode  PhaseCost

	TTFT float64 // seconds
	TPOT float64 // seconds; 0 when output <= 1
	E2E  float64 // seconds

	PrefillTokensPerSec   float64 // batch × input / TTFT
	DecodeTokensPerSecSeq float64 // 1 / TPOT
	DecodeTokensPerSecAll float64 // batch / TPOT

	Memory MemoryPlan
}

// MemoryPlan says whether weights and the workload's KV cache fit.
type MemoryPlan struct {
	BudgetBytes     float64 // usable memory × the profile's memory fraction
	WeightBytes     float64
	KVBytesPerToken float64
	KVBytesNeeded   float64 // batch × (depth + input + output) tokens
	KVTokenCapacity int64   // tokens of KV that fit beside the weights
	Fits            bool
}

// Predict runs a workload through the step model.
func (s *StepModel) Predict(w Workload) (Prediction, error) {
	if err := w.validate(); err != nil {
		return Prediction{}, err
	}
	var p Prediction
	p.Prefill = s.Run(PrefillSteps(w.Batch, w.Input, w.Depth, s.profile.PrefillChunk))
	if w.Output > 1 {
		p.Decode = s.Run(DecodeSteps(w.Batch, w.Output-1, w.Depth+w.Input))
		p.TPOT = p.Decode.Seconds / float64(w.Output-1)
	}
	p.fill(w)
	p.Memory = s.workloadMemory(w)
	return p, nil
}

// fill derives the latency and rate fields from the phase costs.
func (p *Prediction) fill(w Workload) {
	p.TTFT = p.Prefill.Seconds
	p.E2E = p.Prefill.Seconds + p.Decode.Seconds
	if p.TTFT > 0 {
		p.PrefillTokensPerSec = float64(w.Batch*w.Input) / p.TTFT
	}
	if p.TPOT > 0 {
		p.DecodeTokensPerSecSeq = 1 / p.TPOT
		p.DecodeTokensPerSecAll = float64(w.Batch) / p.TPOT
	}
}

// MemoryPlan reports whether weights plus kvTokens of KV cache fit in the
// profile's share of the device's memory.
func (s *StepModel) MemoryPlan(kvTokens int) MemoryPlan {
	budget := s.hw.UsableMemoryBytes() * s.profile.MemoryFraction * float64(s.Devices())
	return planMemory(budget, s.WeightBytes(), s.KVBytesPerToken(), kvTokens)
}

func planMemory(budget, weights, kvPerToken float64, kvTokens int) MemoryPlan {
	m := MemoryPlan{
		BudgetBytes:     budget,
		WeightBytes:     weights,
		KVBytesPerToken: kvPerToken,
		KVBytesNeeded:   float64(kvTokens) * kvPerToken,
	}
	if free := budget - weights; free > 0 {
		m.KVTokenCapacity = int64(free / kvPerToken)
	}
	m.Fits = weights+m.KVBytesNeeded <= budget
	return m
}

// Colocated is the prediction for several instances sharing one device.
type Colocated struct {
	Predictions []Prediction // per instance, contention applied
	Alone       []Prediction // per instance, as if alone on the device
	// PrefillSlowdown and DecodeSlowdown are the factors the contention rule
	// stretched each phase by (1 = no contention).
	PrefillSlowdown float64
	DecodeSlowdown  float64
	Memory          SharedMemory
}

// SharedMemory is the memory split of co-located instances.
type SharedMemory struct {
	BudgetBytes   float64 // usable memory × memory fraction, for all instances
	WeightBytes   float64 // Σ weights
	KVBytesNeeded float64 // Σ KV the workloads need
	FreeBytes     float64 // budget - weights - KV; negative when it does not fit
	Fits          bool
}

// PredictColocated predicts instances that share one device, each serving
// its own workload at the same time. All models must be on the same hardware.
//
// The contention rule (a first one; the simulator refines it): the
// instances run the same phase at the same time (all prefill, then all
// decode: the worst case). In a phase, instance i alone keeps the tensor
// cores busy for a fraction cᵢ = compute/seconds of its time and the memory
// system for mᵢ = memory/seconds. Sharing divides each resource in
// proportion to demand, so every instance's phase stretches by
//
//	s = max(1, Σ cᵢ, Σ mᵢ)
//
// A lone instance has c, m <= 1 and so reduces exactly to the
// single-instance model; two memory-bound decoders each near m = 0.95
// each run about 1.9 times slower.
func PredictColocated(models []*StepModel, loads []Workload) (Colocated, error) {
	if len(models) != len(loads) || len(models) == 0 {
		return Colocated{}, fmt.Errorf("need one workload per model (got %d models, %d workloads)", len(models), len(loads))
	}
	hw := models[0].hw.Name
	var out Colocated
	var loadC, loadM [2]float64 // [prefill, decode]
	for i, m := range models {
		if m.hw.Name != hw {
			return Colocated{}, fmt.Errorf("co-located models must share hardware: %s is on %s, not %s", m.inst.Model.Name, m.hw.Name, hw)
		}
		p, err := m.Predict(loads[i])
		if err != nil {
			return Colocated{}, fmt.Errorf("%s: %w", m.inst.Model.Name, err)
		}
		out.Alone = append(out.Alone, p)
		for ph, c := range []PhaseCost{p.Prefill, p.Decode} {
			if c.Seconds > 0 {
				loadC[ph] += c.Compute / c.Seconds
				loadM[ph] += c.Memory / c.Seconds
			}
		}
	}
	out.PrefillSlowdown = math.Max(1, math.Max(loadC[0], loadM[0]))
	out.DecodeSlowdown = math.Max(1, math.Max(loadC[1], loadM[1]))

	budget := models[0].hw.UsableMemoryBytes() * models[0].profile.MemoryFraction * float64(models[0].Devices())
	out.Memory.BudgetBytes = budget
	for i, p := range out.Alone {
		w := loads[i]
		p.Prefill.Seconds *= out.PrefillSlowdown
		p.Decode.Seconds *= out.DecodeSlowdown
		p.TPOT *= out.DecodeSlowdown
		p.fill(w)
		out.Memory.WeightBytes += p.Memory.WeightBytes
		out.Memory.KVBytesNeeded += p.Memory.KVBytesNeeded
		out.Predictions = append(out.Predictions, p)
	}
	out.Memory.FreeBytes = budget - out.Memory.WeightBytes - out.Memory.KVBytesNeeded
	out.Memory.Fits = out.Memory.FreeBytes >= 0
	// Each instance's own plan now reflects the shared budget: the KV space
	// left once every model's weights are loaded is split evenly by bytes.
	freeKV := (budget - out.Memory.WeightBytes) / float64(len(models))
	for i := range out.Predictions {
		mp := &out.Predictions[i].Memory
		mp.BudgetBytes = budget
		mp.KVTokenCapacity = 0
		if freeKV > 0 {
			mp.KVTokenCapacity = int64(freeKV / mp.KVBytesPerToken)
		}
		mp.Fits = out.Memory.Fits
	}
	return out, nil
}
