package perf

import (
	"fmt"
	"math"

	"github.com/BurntSushi/toml"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// Parallelism: one instance on several devices of a node.
//
// Tensor parallelism (tp) splits every layer's heads and MLP over tp
// devices; pipeline parallelism (pp) gives each of pp stages a contiguous
// ceil(layers/pp) of the layers; expert parallelism (ep) spreads a MoE
// model's experts over ep of a stage's tp devices instead of slicing each.
// A step's time is then one device's share of the work, priced by the same
// terms as a lone device (step.go), plus the collectives the layout needs,
// each latency plus size over bandwidth on the node's link:
//
//   - TP: an all-reduce of the layer's activations after attention and
//     after the MLP (two per layer; one when ep > 1 replaces the MoE's), a
//     ring's 2(n-1) hops and 2(n-1)/n of the payload (NCCL-tests' bus
//     bandwidth, doc/PERFORMANCE.md), and one gather of the logits per step.
//   - EP: a dispatch and a combine all-to-all per MoE layer, (n-1) hops and
//     (n-1)/n of the tokens' routed hidden states.
//   - PP: a send of the hidden states and residual at each of the pp-1
//     stage boundaries, and micro-batching: vLLM keeps pp micro-batches in
//     flight (one per virtual engine), so the batch is split into m =
//     min(pp, sequences) micro-batches and a step of the whole batch takes
//     pp stage times of one micro-batch (the stages busy with the others
//     meanwhile; with fewer sequences than stages the rest idle: the
//     bubble).
//
// The profile's [parallel] table holds what engines make of the link:
// comm_overlap (the share of collective time hidden behind compute),
// collective_launch_s (the fixed cost of one collective) and
// link_bandwidth_eff (the share of the link's bandwidth reached).
// docs/performance-model.md ("Parallelism") gives each term's source.

// Layout is how an instance spreads over the devices of its node: TP × PP
// devices, EP of a stage's TP devices holding whole experts, over Link.
// The zero value is one device, the model before parallelism.
type Layout struct {
	TP, PP, EP int // 0 means 1
	Link       catalog.Interconnect
}

// Degrees returns tp, pp and ep with their defaults.
func (l Layout) Degrees() (tp, pp, ep int) { return max(l.TP, 1), max(l.PP, 1), max(l.EP, 1) }

// Devices is how many devices the instance takes: tp × pp.
func (l Layout) Devices() int {
	tp, pp, _ := l.Degrees()
	return tp * pp
}

// Trivial reports whether the layout is one device (the model before
// parallelism, exactly).
func (l Layout) Trivial() bool {
	tp, pp, ep := l.Degrees()
	return tp == 1 && pp == 1 && ep == 1
}

// MaxDegree bounds tp, pp and ep: the largest NVLink domain sold has 72
// devices.
const MaxDegree = 72

// LayoutError is a layout the model cannot take; Field names the degree
// ("tp", "pp" or "ep") at fault.
type LayoutError struct {
	Field string
	Msg   string
}

func (e *LayoutError) Error() string { return e.Field + ": " + e.Msg }

// CheckLayout lists what keeps model m from running in layout l, as the
// engines require it: tp divides the attention heads, and the KV heads
// divide tp or tp divides them (vLLM replicates KV heads when tp exceeds
// them); tp divides the MLP (and each expert's share of it); pp is at most
// the layers; ep is for MoE models, divides tp and the experts.
func CheckLayout(m catalog.Model, l Layout) []*LayoutError {
	var errs []*LayoutError
	bad := func(f, format string, args ...any) {
		errs = append(errs, &LayoutError{Field: f, Msg: fmt.Sprintf(format, args...)})
	}
	for _, d := range []struct {
		v int
		f string
	}{{l.TP, "tp"}, {l.PP, "pp"}, {l.EP, "ep"}} {
		if d.v < 0 || d.v > MaxDegree {
			bad(d.f, "must be in [1, %d] (0 = 1), got %d", MaxDegree, d.v)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	tp, pp, ep := l.Degrees()
	if m.AttentionHeads > 0 && m.AttentionHeads%tp != 0 {
		bad("tp", "must divide %s's %d attention heads, got %d", m.Name, m.AttentionHeads, tp)
	} else if m.KVHeads > 0 && m.KVHeads%tp != 0 && tp%m.KVHeads != 0 {
		bad("tp", "must divide %s's %d KV heads or be a multiple of them, got %d", m.Name, m.KVHeads, tp)
	}
	if !m.MoE() && m.IntermediateSize%tp != 0 {
		bad("tp", "must divide %s's intermediate_size %d, got %d", m.Name, m.IntermediateSize, tp)
	}
	if pp > m.Layers {
		bad("pp", "must be at most %s's %d layers, got %d", m.Name, m.Layers, pp)
	}
	switch {
	case ep > 1 && !m.MoE():
		bad("ep", "expert parallelism needs a MoE model; %s is dense", m.Name)
	case ep > 1 && tp%ep != 0:
		bad("ep", "must divide tp (%d): experts spread over a stage's tensor-parallel devices, got %d", tp, ep)
	case ep > 1 && m.Experts%ep != 0:
		bad("ep", "must divide %s's %d experts, got %d", m.Name, m.Experts, ep)
	case m.MoE() && tp%ep == 0 && m.ExpertIntermediate%(tp/ep) != 0:
		bad("tp", "tp/ep (%d) must divide %s's expert_intermediate_size %d", tp/ep, m.Name, m.ExpertIntermediate)
	}
	return errs
}

// shard is one device's share of a model in a layout: the most loaded
// device's (the first stage's layers, the head of the last), since the
// slowest stage paces a pipeline and vLLM sizes every worker's KV cache by
// the one with the least memory free.
type shard struct {
	tp, pp, ep  float64
	layers      float64 // per stage: ceil(layers / pp)
	layerParams float64 // dense parameters of one layer on one device
	headParams  float64 // the LM head's share (vocab-parallel over tp)
	embedParams float64 // the embedding's share (vocab-parallel over tp)
	qHeads      float64 // query heads per device
	kvHeads     float64 // KV heads per device (replicated when tp > KV heads)
}

func newShard(m catalog.Model, l Layout) shard {
	tp, pp, ep := l.Degrees()
	h, hd := float64(m.HiddenSize), float64(m.HeadDim)
	t := float64(tp)
	kvSplit := float64(min(tp, max(m.KVHeads, 1)))
	q, kv := float64(m.AttentionHeads)*hd, float64(m.KVHeads)*hd
	attn := 2*h*q/t + 2*h*kv/kvSplit
	if m.QKVBias {
		attn += q/t + 2*kv/kvSplit
	}
	if m.QKNorm {
		attn += 2 * hd // replicated
	}
	if m.OBias {
		attn += h // replicated: added once after the all-reduce, held by every rank
	}
	if m.AttentionSinks {
		attn += float64(m.AttentionHeads) / t // one per head, with the heads
	}
	layer := attn + float64(m.NormParams()) + float64(m.RouterParams()) + float64(m.DenseMLPParams())/t
	vocab := float64(m.VocabSize) * h / t
	return shard{tp: t, pp: float64(pp), ep: float64(ep), layers: math.Ceil(float64(m.Layers) / float64(pp)),
		layerParams: layer, headParams: vocab, embedParams: vocab,
		qHeads: float64(m.AttentionHeads) / t, kvHeads: float64(m.KVHeads) / kvSplit}
}

// weightParams is the parameters the most loaded device holds: its
// stage's layers with their share of every expert, and the embedding and
// head (both on the one stage without pipelining, the embedding on the
// first stage and the head on the last with it, the larger counted).
func (sh shard) weightParams(m catalog.Model) float64 {
	n := sh.layers * (sh.layerParams + float64(m.Experts)*float64(m.ExpertParams())/sh.tp)
	switch {
	case sh.pp > 1:
		n += max(sh.embedParams, sh.headParams)
	case m.TieWordEmbeddings:
		n += sh.embedParams
	default:
		n += sh.embedParams + sh.headParams
	}
	// The final norm; a vision encoder's share (vLLM splits its linear
	// layers over the tensor-parallel ranks too).
	return n + float64(m.HiddenSize) + float64(m.VisionParams())/sh.tp
}

// WeightBytes is the memory the instance's weights take over all its
// devices: the model's weights on one device, or each device as much as
// the most loaded holds (replicated norms, routers and KV heads
// included).
func (in Instance) WeightBytes() float64 {
	m := in.Model
	if in.Layout.Trivial() {
		return in.splitBytes(float64(m.WeightParams()), float64(m.Layers*m.Experts)*float64(m.ExpertParams()))
	}
	sh := newShard(m, in.Layout)
	return float64(in.Layout.Devices()) * in.splitBytes(sh.weightParams(m), sh.layers*float64(m.Experts)*float64(m.ExpertParams())/sh.tp)
}

// KVBytesPerToken is the KV cache one token of context takes over all the
// instance's devices: each holds its stage's layers of its KV heads, so
// with tp above the KV heads the heads are stored several times.
func (in Instance) KVBytesPerToken() float64 {
	if in.Layout.Trivial() {
		return in.Model.KVBytesPerToken(in.KV)
	}
	return float64(in.Layout.Devices()) * in.shardKVBytesPerToken()
}

// shardKVBytesPerToken is one device's KV per token of context.
func (in Instance) shardKVBytesPerToken() float64 {
	sh := newShard(in.Model, in.Layout)
	return sh.layers * 2 * sh.kvHeads * float64(in.Model.HeadDim) * in.KV.Bits / 8
}

// Parallel holds the coefficients of collectives: the [parallel] table of
// a profile. A profile without it uses DefaultParallel's priors, and a
// table that leaves a key out takes that key from them.
type Parallel struct {
	// CommOverlap is the share of collective time hidden behind compute,
	// in [0, 1). 0: every collective is on the step's critical path.
	CommOverlap float64 `toml:"comm_overlap"`
	// CollectiveLaunchS is the fixed time of one collective before its
	// hops (kernel launch, synchronisation), in seconds.
	CollectiveLaunchS float64 `toml:"collective_launch_s"`
	// LinkBandwidthEff is the share of the link's per-direction bandwidth
	// a collective's bus bandwidth reaches, in (0, 1].
	LinkBandwidthEff float64 `toml:"link_bandwidth_eff"`
	// Source says what they were fitted on, or "prior: ..." and why.
	Source string `toml:"source,omitempty"`
}

// The priors of DefaultParallel; docs/performance-model.md ("Parallelism")
// gives their sources.
const (
	// priorCommOverlap: vLLM and SGLang issue a TP all-reduce between the
	// GEMMs it joins, on the same stream, so nothing hides it.
	priorCommOverlap = 0
	// priorCollectiveLaunchS: NCCL's own tuning model charges a ring
	// all-reduce with its LL protocol (the one small messages take) a
	// base latency of 6.6 µs before its hops (src/graph/tuning.cc,
	// baseLat[Ring][LL]).
	priorCollectiveLaunchS = 6.6e-6
	// priorLinkBandwidthEff: nccl-tests' all-reduce bus bandwidth on 8
	// A100 SXM4 over NVLink 3 is 230-250 GB/s of the 300 GB/s each way
	// (docs.alayanew.com's reference table): 0.8.
	priorLinkBandwidthEff = 0.8
)

// DefaultParallel is the collective coefficients of a profile with no
// [parallel] table: priors, none fitted.
func DefaultParallel() Parallel {
	return Parallel{CommOverlap: priorCommOverlap, CollectiveLaunchS: priorCollectiveLaunchS, LinkBandwidthEff: priorLinkBandwidthEff,
		Source: "prior: comm_overlap 0 (all-reduces run in-stream between the GEMMs); collective_launch_s NCCL's ring/LL base latency; " +
			"link_bandwidth_eff nccl-tests' bus bandwidth over NVLink on A100; none fitted"}
}

// OrDefault returns p, or DefaultParallel where p is nil.
func (p *Parallel) OrDefault() Parallel {
	if p == nil {
		return DefaultParallel()
	}
	return *p
}

// maxCollectiveLaunchS bounds collective_launch_s: a collective that takes
// a millisecond before sending anything is no serving engine's.
const maxCollectiveLaunchS = 1e-3

// check fills the keys the table leaves out from DefaultParallel and
// bounds the rest, reporting to errs as OutOfRange.
func (p *Parallel) check(md toml.MetaData, errs *tomlcheck.Errors) {
	def := DefaultParallel()
	if !md.IsDefined("parallel", "comm_overlap") {
		p.CommOverlap = def.CommOverlap
	}
	if !md.IsDefined("parallel", "collective_launch_s") {
		p.CollectiveLaunchS = def.CollectiveLaunchS
	}
	if !md.IsDefined("parallel", "link_bandwidth_eff") {
		p.LinkBandwidthEff = def.LinkBandwidthEff
	}
	key := func(k string) []string { return []string{"parallel", k} }
	if !(p.CommOverlap >= 0 && p.CommOverlap < 1) {
		errs.AddKind(tomlcheck.OutOfRange, key("comm_overlap"), "must be in [0, 1), got %v", p.CommOverlap)
	}
	if !(p.CollectiveLaunchS >= 0 && p.CollectiveLaunchS <= maxCollectiveLaunchS) {
		errs.AddKind(tomlcheck.OutOfRange, key("collective_launch_s"), "must be in [0, %g] seconds, got %v", maxCollectiveLaunchS, p.CollectiveLaunchS)
	}
	if !(p.LinkBandwidthEff > 0 && p.LinkBandwidthEff <= 1) {
		errs.AddKind(tomlcheck.OutOfRange, key("link_bandwidth_eff"), "must be in (0, 1], got %v", p.LinkBandwidthEff)
	}
}

// Collective is one link as the collectives see it: the fixed cost of a
// collective, one hop's latency and the bandwidth reached each way.
type Collective struct {
	LaunchS, HopS, BytesPerS float64
}

// NewCollective prices collectives on link with the coefficients co.
func NewCollective(link catalog.Interconnect, co Parallel) Collective {
	return Collective{LaunchS: co.CollectiveLaunchS, HopS: link.LatencySeconds(), BytesPerS: link.BandwidthBytesPerSecond() * co.LinkBandwidthEff}
}

// AllReduce is a ring all-reduce of size bytes on every one of n devices:
// launch + 2(n-1) hops + 2(n-1)/n × size / bandwidth (NCCL's ring and its
// tests' bus bandwidth). 0 for one device.
func (c Collective) AllReduce(n int, size float64) float64 {
	if n <= 1 {
		return 0
	}
	k := float64(n - 1)
	return c.LaunchS + 2*k*c.HopS + 2*k/float64(n)*size/c.BytesPerS
}

// AllToAll exchanges size bytes held by each of n devices, a 1/n share of
// it for each: launch + (n-1) hops + (n-1)/n × size / bandwidth. 0 for one
// device.
func (c Collective) AllToAll(n int, size float64) float64 {
	if n <= 1 {
		return 0
	}
	k := float64(n - 1)
	return c.LaunchS + k*c.HopS + k/float64(n)*size/c.BytesPerS
}

// Gather collects n devices' 1/n shares of size bytes on one: as one half
// of an all-reduce, launch + (n-1) hops + (n-1)/n × size / bandwidth.
func (c Collective) Gather(n int, size float64) float64 { return c.AllToAll(n, size) }

// Send is a point-to-point send of size bytes to the next device.
func (c Collective) Send(size float64) float64 { return c.LaunchS + c.HopS + size/c.BytesPerS }

// activationBytes is the size of one activation value on the link: every
// engine keeps activations in 16 bits whatever the weights' format.
const activationBytes = 2

// parallelState is what a step model of a non-trivial layout keeps: the
// layout, its shard and the link's collectives.
type parallelState struct {
	tp, pp, ep int
	devices    int
	moe        bool
	hidden     float64 // bytes of one token's hidden state on the link
	topK       float64
	vocab      float64
	weights    float64 // bytes on the most loaded device
	kv         float64 // KV bytes per token of context on one device
	coll       Collective
	overlap    float64
	// arPerLayer is the TP all-reduces of one layer: 2, or 1 when EP's
	// all-to-alls take the MoE's place.
	arPerLayer float64
}

// applyLayout makes s one device's share of its instance's layout: the
// stage's layers, the tensor-parallel slices of every matrix, the head's
// vocab share, the device's KV heads; and keeps what the collectives
// need. It is called once by NewStepModel for a non-trivial layout.
func (s *StepModel) applyLayout(p Profile) error {
	inst := s.inst
	m := inst.Model
	if errs := CheckLayout(m, inst.Layout); len(errs) > 0 {
		return errs[0]
	}
	l := inst.Layout
	tp, pp, ep := l.Degrees()
	if !(l.Link.BandwidthGBs > 0) && tp*pp > 1 {
		return fmt.Errorf("layout over %d devices needs a link between them (an interconnect with bandwidth)", tp*pp)
	}
	sh := newShard(m, l)
	bpw := inst.Weights.BitsPerWeight / 8
	s.layers = sh.layers
	s.denseFLOPsPerToken = 2 * sh.layers * sh.layerParams
	s.lmHeadFLOPsPerSeq = 2 * sh.headParams
	s.attnFLOPsPerPair = 4 * sh.layers * sh.qHeads * float64(m.HeadDim)
	s.denseWeightBytes = (sh.layers*sh.layerParams + sh.headParams) * bpw
	if m.MoE() {
		s.expertFLOPsPerToken = 2 * sh.layers * s.topK * float64(m.ExpertParams()) / sh.tp
		s.expertBytes = float64(m.ExpertParams()) * inst.ExpertFormat().BitsPerWeight / 8 / sh.tp
	}
	s.kvBytesPerToken = inst.shardKVBytesPerToken()
	ps := &parallelState{tp: tp, pp: pp, ep: ep, devices: tp * pp, moe: m.MoE(), hidden: float64(m.HiddenSize) * activationBytes,
		topK: float64(m.ExpertsPerToken), vocab: float64(m.VocabSize), weights: inst.splitBytes(sh.weightParams(m), sh.layers*float64(m.Experts)*float64(m.ExpertParams())/sh.tp),
		kv: s.kvBytesPerToken, arPerLayer: 2}
	if ep > 1 {
		ps.arPerLayer = 1
	}
	s.par = ps
	s.setParallel(p)
	return nil
}

// setParallel takes the collective coefficients from p's [parallel] table.
func (s *StepModel) setParallel(p Profile) {
	if s.par == nil {
		return
	}
	co := p.Parallel.OrDefault()
	s.par.coll = NewCollective(s.inst.Layout.Link, co)
	s.par.overlap = co.CommOverlap
}

// Devices is how many devices the instance runs on.
func (s *StepModel) Devices() int {
	if s.par == nil {
		return 1
	}
	return s.par.devices
}

// commSeconds is the collective time of one step's critical path for a
// micro-batch of tokens tokens and seqs sequences: every stage's TP
// all-reduces and EP all-to-alls, the sends between stages, and the
// logits' gather.
func (ps *parallelState) commSeconds(layers, tokens, seqs float64) float64 {
	if tokens <= 0 {
		return 0
	}
	act := tokens * ps.hidden
	stage := layers * ps.arPerLayer * ps.coll.AllReduce(ps.tp, act)
	if ps.moe && ps.ep > 1 {
		stage += layers * 2 * ps.coll.AllToAll(ps.ep, act*ps.topK/float64(ps.ep))
	}
	pf := float64(ps.pp)
	t := pf * stage
	if ps.pp > 1 {
		t += (pf - 1) * ps.coll.Send(2*act) // hidden states and residual
	}
	return t + ps.coll.Gather(ps.tp, seqs*ps.vocab*activationBytes)
}

// parallelStep prices a step of a non-trivial layout: the batch split into
// m micro-batches, one stage's terms for one of them on one device, pp
// stage times of it plus the exposed collectives; the work is the
// device's over the whole step (each micro-batch reads the stage's
// weights once).
func (s *StepModel) parallelStep(b Batch) StepCost { return s.parallelSeqs(b, -1) }

// parallelSeqs is parallelStep with the per-sequence overhead counted for
// seqs sequences (a speculative verification's batch counts its tokens as
// sequences; -1 keeps b's).
func (s *StepModel) parallelSeqs(b Batch, seqs int) StepCost {
	ps := s.par
	tokens := b.Tokens()
	if tokens == 0 {
		return StepCost{}
	}
	t, flops, _ := s.terms(b)
	if seqs >= 0 {
		t[termSeqOverhead] = float64(seqs)
	}
	m := float64(max(1, min(ps.pp, b.Seqs())))
	micro := tokens
	if m > 1 {
		micro = int(math.Ceil(float64(tokens) / m))
		for _, i := range []int{termPrefillCompute, termDecodeCompute, termExpertCompute, termAttentionCompute,
			termAttentionDepth, termKVMemory, termSeqOverhead} {
			t[i] /= m
		}
		if all := s.DistinctExperts(tokens); all > 0 {
			r := s.DistinctExperts(micro) / all
			t[termExpertGEMM] *= r
			t[termExpertMemory] *= r
			t[termMultiSeqExpertPass] *= r
		}
		if micro < 2 {
			t[termMultiSeqWeightPass], t[termMultiSeqExpertPass] = 0, 0
		}
	}
	t[termExpertGEMM] /= float64(ps.ep) // each device runs its own experts' GEMMs
	bytes := (t[termWeightMemory] + t[termExpertMemory] + t[termKVMemory]) * s.bandwidth * m
	c := combine(&t, &s.coef, s.serial)
	pf := float64(ps.pp)
	c.Compute *= pf
	c.Memory *= pf
	c.Overhead *= pf
	c.Comm = (1 - ps.overlap) * ps.commSeconds(s.layers, float64(micro), math.Ceil(float64(b.Seqs())/m))
	c.Overhead += c.Comm
	c.Seconds = math.Max(c.Compute, c.Memory) + c.Overhead
	if c.Serial != 0 {
		c.Seconds += c.Serial * math.Min(c.Compute, c.Memory)
	}
	c.FLOPs, c.Bytes = flops, bytes
	return c
}
