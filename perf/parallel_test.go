package perf

import (
	"math"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// parallelModel builds a step model of an instance in layout l.
func parallelModel(t testing.TB, hw, model, quant, kv string, l Layout, p Profile) *StepModel {
	t.Helper()
	h, _ := cat.HardwareNamed(hw)
	m, err := cat.Model(model)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := cat.Format(quant)
	k, _ := cat.KVType(kv)
	s, err := NewStepModel(h, Instance{Model: m, Weights: f, KV: k, Layout: l}, p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func link(t testing.TB, name string) catalog.Interconnect {
	t.Helper()
	l, ok := cat.Interconnects[name]
	if !ok {
		t.Fatalf("no interconnect %s", name)
	}
	return l
}

// testBatches are steps of every kind: a prompt chunk, decodes at several
// contexts, a mixed step, a deep one.
func testBatches() []Batch {
	var bs []Batch
	var b Batch
	b.AddPrefill(2048, 0)
	bs = append(bs, b)
	for _, n := range []int{1, 7, 64} {
		b = Batch{}
		for i := range n {
			b.AddDecode(100 + 37*i)
		}
		bs = append(bs, b)
	}
	b = Batch{}
	b.AddPrefill(300, 1000)
	b.AddDecode(5000)
	b.AddDecode(20)
	return append(bs, b)
}

// TestTrivialLayoutIsTheOneDeviceModel: tp = pp = ep = 1, spelled out or
// left zero, with or without a link, prices every step exactly as the
// model before parallelism, for dense and MoE models.
func TestTrivialLayoutIsTheOneDeviceModel(t *testing.T) {
	p := defaultProfile(t, "h100-sxm", "vllm")
	nv := link(t, "nvlink4-nvswitch")
	for _, model := range []string{"qwen3-8b", "qwen3-30b-a3b"} {
		base := stepModel(t, "h100-sxm", model, "fp8", "fp16", p)
		for _, l := range []Layout{{TP: 1, PP: 1, EP: 1}, {Link: nv}, {TP: 1, Link: nv}} {
			s := parallelModel(t, "h100-sxm", model, "fp8", "fp16", l, p)
			if s.par != nil || s.Devices() != 1 || s.WeightBytes() != base.WeightBytes() || s.KVBytesPerToken() != base.KVBytesPerToken() {
				t.Fatalf("%s %+v: not the one-device model", model, l)
			}
			for i, b := range testBatches() {
				if got, want := s.Step(b), base.Step(b); got != want {
					t.Errorf("%s %+v batch %d: %+v, want %+v", model, l, i, got, want)
				}
			}
		}
	}
}

// TestCollectiveArithmetic checks each collective's latency-plus-bandwidth
// cost against hand arithmetic on a link of 100 GB/s (reached in full)
// with 1 µs hops and a 5 µs launch.
func TestCollectiveArithmetic(t *testing.T) {
	c := NewCollective(catalog.Interconnect{BandwidthGBs: 100, LatencyUS: 1}, Parallel{CollectiveLaunchS: 5e-6, LinkBandwidthEff: 1})
	const mb = 1e6
	for _, tt := range []struct {
		name string
		got  float64
		want float64 // seconds
	}{
		{"all-reduce, one device", c.AllReduce(1, mb), 0},
		{"all-reduce, 2 devices", c.AllReduce(2, mb), 5e-6 + 2*1e-6 + 1.0*mb/100e9},
		{"all-reduce, 8 devices", c.AllReduce(8, mb), 5e-6 + 14*1e-6 + 14.0/8*mb/100e9},
		{"all-reduce, 8 devices, empty", c.AllReduce(8, 0), 5e-6 + 14*1e-6},
		{"all-to-all, 4 devices", c.AllToAll(4, 8*mb), 5e-6 + 3*1e-6 + 0.75*8*mb/100e9},
		{"gather, 2 devices", c.Gather(2, mb), 5e-6 + 1e-6 + 0.5*mb/100e9},
		{"send", c.Send(mb), 5e-6 + 1e-6 + mb/100e9},
	} {
		if math.Abs(tt.got-tt.want) > 1e-15 {
			t.Errorf("%s: %g s, want %g s", tt.name, tt.got, tt.want)
		}
	}
	half := NewCollective(catalog.Interconnect{BandwidthGBs: 100, LatencyUS: 1}, Parallel{LinkBandwidthEff: 0.5})
	if got, want := half.Send(mb), 1e-6+mb/50e9; math.Abs(got-want) > 1e-15 {
		t.Errorf("link_bandwidth_eff 0.5: send %g, want %g", got, want)
	}
}

// TestTensorParallelSplitsMemory: TP splits the weights and the KV exactly
// (what each device holds beyond its share is what it replicates: norms,
// routers, KV heads when tp exceeds them), and a model too big for one
// device fits on two.
func TestTensorParallelSplitsMemory(t *testing.T) {
	m, _ := cat.Model("qwen3-32b")
	bf16, _ := cat.Format("bf16")
	fp16kv, _ := cat.KVType("fp16")
	one := Instance{Model: m, Weights: bf16, KV: fp16kv}
	two := one
	two.Layout = Layout{TP: 2}
	// Replicated on each device: two RMSNorms and the q/k norms per
	// layer, the final norm.
	h, hd, l := float64(m.HiddenSize), float64(m.HeadDim), float64(m.Layers)
	replicated := (l*(2*h+2*hd) + h) * 2 // bytes
	if got, want := two.WeightBytes(), one.WeightBytes()+replicated; math.Abs(got-want) > 1e-6*want {
		t.Errorf("TP2 weights over both devices %.6g, want %.6g (the model's plus one replica)", got, want)
	}
	if got, want := two.KVBytesPerToken(), one.KVBytesPerToken(); got != want {
		t.Errorf("TP2 KV per token %v, want the model's %v: 8 KV heads split 4 + 4", got, want)
	}
	big, _ := cat.Model("qwen3-235b-a22b") // 4 KV heads
	fp8, _ := cat.Format("fp8")
	tp8 := Instance{Model: big, Weights: fp8, KV: fp16kv, Layout: Layout{TP: 8}}
	if got, want := tp8.KVBytesPerToken(), 2*big.KVBytesPerToken(fp16kv); got != want {
		t.Errorf("TP8 of 4 KV heads: KV per token %v, want twice the model's %v (each head on 2 devices)", got, want)
	}

	p := defaultProfile(t, "h100-sxm", "vllm")
	const tokens = 32 * 4096 // 32 sequences of 4K: 32 GiB of KV beside 61 GiB of weights
	if mp := stepModel(t, "h100-sxm", "qwen3-32b", "bf16", "fp16", p).MemoryPlan(tokens); mp.Fits {
		t.Fatalf("one H100 holds Qwen3-32B bf16 and %d tokens: %+v", tokens, mp)
	}
	s := parallelModel(t, "h100-sxm", "qwen3-32b", "bf16", "fp16", Layout{TP: 2, Link: link(t, "nvlink4-nvswitch")}, p)
	mp := s.MemoryPlan(tokens)
	if !mp.Fits {
		t.Fatalf("two H100s do not hold Qwen3-32B bf16 and %d tokens: %+v", tokens, mp)
	}
	h100, _ := cat.HardwareNamed("h100-sxm")
	if want := 2 * h100.UsableMemoryBytes() * p.MemoryFraction; mp.BudgetBytes != want {
		t.Errorf("budget %v, want both devices' %v", mp.BudgetBytes, want)
	}
}

// TestCommGrowsWithLayersAndBatch: a TP decode step's collective time is
// the cost model's, per layer and per token: two all-reduces of the batch's
// activations per layer and a gather of its logits.
func TestCommGrowsWithLayersAndBatch(t *testing.T) {
	p := defaultProfile(t, "h100-sxm", "vllm")
	nv := link(t, "nvlink4-nvswitch")
	co := NewCollective(nv, DefaultParallel())
	decode := func(n int) Batch {
		var b Batch
		for range n {
			b.AddDecode(1000)
		}
		return b
	}
	for _, model := range []string{"qwen3-8b", "qwen3-32b"} {
		m, _ := cat.Model(model)
		s := parallelModel(t, "h100-sxm", model, "bf16", "fp16", Layout{TP: 2, Link: nv}, p)
		prev := 0.0
		for _, n := range []int{1, 8, 64, 256} {
			act := float64(n*m.HiddenSize) * 2
			want := float64(2*m.Layers)*co.AllReduce(2, act) + co.Gather(2, float64(n*m.VocabSize)*2)
			c := s.Step(decode(n))
			if math.Abs(c.Comm-want) > 1e-12 {
				t.Errorf("%s batch %d: comm %g s, want %g s", model, n, c.Comm, want)
			}
			if c.Comm <= prev {
				t.Errorf("%s batch %d: comm %g s does not grow with the batch (%g before)", model, n, c.Comm, prev)
			}
			prev = c.Comm
		}
	}
	s8 := parallelModel(t, "h100-sxm", "qwen3-8b", "bf16", "fp16", Layout{TP: 2, Link: nv}, p)
	s32 := parallelModel(t, "h100-sxm", "qwen3-32b", "bf16", "fp16", Layout{TP: 2, Link: nv}, p)
	if c8, c32 := s8.Step(decode(1)).Comm, s32.Step(decode(1)).Comm; !(c32 > 1.5*c8) {
		t.Errorf("64 layers' comm %g s is not well above 36 layers' %g s", c32, c8)
	}
	over := p
	over.Parallel = &Parallel{CommOverlap: 0.75, CollectiveLaunchS: priorCollectiveLaunchS, LinkBandwidthEff: priorLinkBandwidthEff}
	half := parallelModel(t, "h100-sxm", "qwen3-8b", "bf16", "fp16", Layout{TP: 2, Link: nv}, over)
	if got, want := half.Step(decode(8)).Comm, 0.25*s8.Step(decode(8)).Comm; math.Abs(got-want) > 1e-15 {
		t.Errorf("comm_overlap 0.75 leaves %g s exposed, want a quarter: %g s", got, want)
	}
}

// TestTP2DecodeNVLinkVsPCIe: splitting a bandwidth-bound decode over two
// devices makes each token faster, and less so over PCIe, whose
// collectives cost more.
func TestTP2DecodeNVLinkVsPCIe(t *testing.T) {
	p := defaultProfile(t, "h100-sxm", "vllm")
	var b Batch
	for range 32 {
		b.AddDecode(1024)
	}
	one := stepModel(t, "h100-sxm", "qwen3-8b", "bf16", "fp16", p).Step(b)
	if !one.MemoryBound() {
		t.Fatalf("the decode step is not bandwidth-bound: %+v", one)
	}
	speedup := func(l string) float64 {
		c := parallelModel(t, "h100-sxm", "qwen3-8b", "bf16", "fp16", Layout{TP: 2, Link: link(t, l)}, p).Step(b)
		return one.Seconds / c.Seconds
	}
	nv, pcie := speedup("nvlink4-nvswitch"), speedup("pcie4-x16")
	if !(nv > 1.3) {
		t.Errorf("TP2 over NVLink is %.3fx TP1 per token, want clearly faster", nv)
	}
	if !(pcie < nv) {
		t.Errorf("TP2 over PCIe is %.3fx, not below NVLink's %.3fx", pcie, nv)
	}
}

// TestPipelineMicroBatches: with pp stages a batch of at least pp
// sequences runs as pp micro-batches, each device doing its stage's share
// of the FLOPs; a lone sequence leaves the other stages idle (the bubble),
// so it gains nothing over one device.
func TestPipelineMicroBatches(t *testing.T) {
	p := defaultProfile(t, "h100-sxm", "vllm")
	nv := link(t, "nvlink4-nvswitch")
	one := stepModel(t, "h100-sxm", "qwen3-8b", "bf16", "fp16", p)
	pp2 := parallelModel(t, "h100-sxm", "qwen3-8b", "bf16", "fp16", Layout{PP: 2, Link: nv}, p)
	var lone, many Batch
	lone.AddDecode(500)
	for range 64 {
		many.AddDecode(500)
	}
	if a, b := one.Step(lone).Seconds, pp2.Step(lone).Seconds; !(b >= 0.95*a) {
		t.Errorf("one sequence over 2 stages takes %g s, less than one device's %g s: no bubble", b, a)
	}
	c1, c2 := one.Step(many), pp2.Step(many)
	// The most loaded stage: half the layers and the head.
	if r := c2.FLOPs / c1.FLOPs; !(r > 0.5 && r < 0.56) {
		t.Errorf("a stage's FLOPs are %.3f of the model's, want half the layers' and the head's", r)
	}
	if !(c2.Bytes > 0.9*c1.Bytes) {
		t.Errorf("two micro-batches read the stage's weights twice: device bytes %g, model's %g", c2.Bytes, c1.Bytes)
	}
	if c2.Comm <= 0 {
		t.Errorf("no send between stages: %+v", c2)
	}
}

// TestExpertParallel: EP replaces the MoE layers' all-reduce with
// dispatch and combine all-to-alls and spreads the experts' GEMMs.
func TestExpertParallel(t *testing.T) {
	p := defaultProfile(t, "h100-sxm", "vllm")
	nv := link(t, "nvlink4-nvswitch")
	tp := parallelModel(t, "h100-sxm", "qwen3-235b-a22b", "fp8", "fp8", Layout{TP: 8, Link: nv}, p)
	ep := parallelModel(t, "h100-sxm", "qwen3-235b-a22b", "fp8", "fp8", Layout{TP: 8, EP: 8, Link: nv}, p)
	if tp.WeightBytes() != ep.WeightBytes() {
		t.Errorf("EP moves experts, not bytes: %v vs %v", ep.WeightBytes(), tp.WeightBytes())
	}
	var b Batch
	for range 16 {
		b.AddDecode(2000)
	}
	ct, ce := tp.Step(b), ep.Step(b)
	if ct.Comm == ce.Comm || ce.Comm <= 0 {
		t.Errorf("EP comm %g s, TP comm %g s: want different and positive", ce.Comm, ct.Comm)
	}
	if !(ct.Seconds > 0 && ce.Seconds > 0) {
		t.Errorf("no step time: %+v %+v", ct, ce)
	}
}

// TestCheckLayout: every layout a model cannot take is refused, naming
// its degree.
func TestCheckLayout(t *testing.T) {
	for _, tt := range []struct {
		model string
		l     Layout
		field string // "" = accepted
		want  string
	}{
		{"qwen3-8b", Layout{TP: 2}, "", ""},
		{"qwen3-235b-a22b", Layout{TP: 8, EP: 8}, "", ""}, // 4 KV heads, replicated
		{"qwen3-8b", Layout{TP: 3}, "tp", "must divide qwen3-8b's 32 attention heads"},
		{"qwen3-8b", Layout{TP: 16}, "", ""},                                                                       // 8 KV heads, each on 2 devices
		{"qwen3-0.6b", Layout{TP: 16}, "", ""},                                                                     // 16 heads, 8 KV heads
		{"qwen3-14b", Layout{TP: 10}, "tp", "must divide qwen3-14b's 8 KV heads or be a multiple of them, got 10"}, // 40 heads / 10 is fine
		{"qwen3-32b", Layout{PP: 70}, "pp", "must be at most qwen3-32b's 64 layers"},
		{"qwen3-8b", Layout{TP: 2, EP: 2}, "ep", "needs a MoE model"},
		{"qwen3-30b-a3b", Layout{TP: 4, EP: 3}, "ep", "must divide tp (4)"},
		{"qwen3-8b", Layout{TP: -1}, "tp", "must be in [1, 72]"},
		{"qwen3-8b", Layout{PP: 99}, "pp", "must be in [1, 72]"},
	} {
		m, _ := cat.Model(tt.model)
		errs := CheckLayout(m, tt.l)
		switch {
		case tt.field == "":
			if len(errs) != 0 {
				t.Errorf("%s %+v: %v, want accepted", tt.model, tt.l, errs)
			}
		case len(errs) == 0 || errs[0].Field != tt.field || !strings.Contains(errs[0].Msg, tt.want):
			t.Errorf("%s %+v: %v, want %s: %q", tt.model, tt.l, errs, tt.field, tt.want)
		}
	}
	p := defaultProfile(t, "h100-sxm", "vllm")
	h, _ := cat.HardwareNamed("h100-sxm")
	m, _ := cat.Model("qwen3-8b")
	f, _ := cat.Format("bf16")
	k, _ := cat.KVType("fp16")
	if _, err := NewStepModel(h, Instance{Model: m, Weights: f, KV: k, Layout: Layout{TP: 2}}, p); err == nil || !strings.Contains(err.Error(), "needs a link") {
		t.Errorf("TP2 without a link: %v", err)
	}
}

// TestParallelTable: the profile's [parallel] table takes what it leaves
// out from the priors and bounds what it sets.
func TestParallelTable(t *testing.T) {
	const head = "hardware = \"h100-sxm\"\nengine = \"vllm\"\nprefill_chunk = 8192\nmemory_fraction = 0.9\n" +
		"[coefficients]\nprefill_compute_eff = 0.5\ndecode_compute_eff = 0.3\nexpert_compute_eff = 0.3\nattention_compute_eff = 0.4\n" +
		"weight_bandwidth_eff = 0.8\nexpert_bandwidth_eff = 0.6\nkv_bandwidth_eff = 0.6\nstep_overhead_s = 0.0003\nlayer_overhead_s = 0\nseq_overhead_s = 0.00001\n"
	p, err := ParseProfile("p.toml", []byte(head+"[parallel]\ncomm_overlap = 0.3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Parallel.OrDefault(); got.CommOverlap != 0.3 || got.CollectiveLaunchS != priorCollectiveLaunchS || got.LinkBandwidthEff != priorLinkBandwidthEff {
		t.Errorf("got %+v", got)
	}
	for _, tt := range []struct{ src, want string }{
		{"comm_overlap = 1", "parallel.comm_overlap: must be in [0, 1)"},
		{"link_bandwidth_eff = 0", "parallel.link_bandwidth_eff: must be in (0, 1]"},
		{"collective_launch_s = 1", "parallel.collective_launch_s: must be in [0, 0.001]"},
	} {
		_, err := ParseProfile("p.toml", []byte(head+"[parallel]\n"+tt.src+"\n"))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !tomlcheck.Has(err, tomlcheck.OutOfRange) {
			t.Errorf("%s: %v, want %q", tt.src, err, tt.want)
		}
	}
}

// TestParallelStepDoesNotAllocate: the simulator prices every step of a
// parallel instance too.
func TestParallelStepDoesNotAllocate(t *testing.T) {
	p := defaultProfile(t, "h100-sxm", "vllm")
	s := parallelModel(t, "h100-sxm", "qwen3-235b-a22b", "fp8", "fp8", Layout{TP: 4, PP: 2, EP: 4, Link: link(t, "nvlink4-nvswitch")}, p)
	bs := testBatches()
	if n := testing.AllocsPerRun(100, func() {
		for _, b := range bs {
			s.Step(b)
		}
	}); n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}
