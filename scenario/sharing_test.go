package scenario

import (
	"maps"
	"math"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// h100Base is an H100 running two models under vLLM: Qwen3-8B in bf16
// (15.26 GiB of weights) and Qwen3-32B in fp8 (30.51 GiB). Each fits half
// the device, a 3g.40gb or a 4g.40gb partition; Qwen3-32B in bf16 (61 GiB)
// fits none but 7g.80gb.
const h100Base = `name = "h100"
seed = 1
duration_s = 600
warmup_s = 60

[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 1.0
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 512
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 128

[models.qwen3-32b.workload.arrival]
process = "poisson"
rate = 0.5
[models.qwen3-32b.workload.input]
dist = "fixed"
value = 512
[models.qwen3-32b.workload.output]
dist = "fixed"
value = 128

[[nodes]]
name = "h100"
hardware = "h100-sxm"
engine = "vllm"
count = 1

  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "bf16"

  [[nodes.instances]]
  model = "qwen3-32b"
  quant = "fp8"
`

// Partitions for h100Base's two instances, and the line each one adds.
const (
	mig8b  = "model = \"qwen3-8b\"\n  quant = \"bf16\""
	mig32b = "model = \"qwen3-32b\"\n  quant = \"fp8\""
)

// edit applies old → new replacements to src in order, failing the test
// if one does not apply.
func edit(t *testing.T, src string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(src, pairs[i]) {
			t.Fatalf("no %q to replace in\n%s", pairs[i], src)
		}
		src = strings.Replace(src, pairs[i], pairs[i+1], 1)
	}
	return src
}

// TestSharingErrors: each misuse of sharing, priority, mps_active_thread_pct
// or mig is reported at its field, with its kind and a message that says
// what is valid.
func TestSharingErrors(t *testing.T) {
	sharing := func(s string) []string { return []string{"count = 1", "count = 1\nsharing = \"" + s + "\""} }
	on8b := func(field string) []string { return []string{mig8b, mig8b + "\n  " + field} }
	on32b := func(field string) []string { return []string{mig32b, mig32b + "\n  " + field} }
	cat2 := func(p ...[]string) []string {
		var out []string
		for _, x := range p {
			out = append(out, x...)
		}
		return out
	}
	third := []string{mig32b, mig32b + "\n  mig = \"3g.40gb\"\n  [[nodes.instances]]\n  model = \"qwen3-8b\"\n  quant = \"bf16\"\n  mig = \"3g.40gb\""}
	tests := []struct {
		name  string
		src   string   // the base scenario: h100Base, or base (a DGX Spark under llama.cpp)
		edits []string // old, new, ...
		field string
		kind  tomlcheck.Kind
		want  string
	}{
		{"unknown sharing", h100Base, sharing("mgi"), "nodes[0].sharing", tomlcheck.Invalid,
			"nodes[0].sharing: unknown sharing \"mgi\"; valid: time-slice, mps, mig, one-process"},
		{"mig without MIG", base, []string{"count = 2", "count = 2\nsharing = \"mig\""}, "nodes[0].sharing", tomlcheck.NoFit,
			"nodes[0].sharing: dgx-spark has no MIG partitions; valid for it: time-slice, mps, one-process"},
		{"mig without a partition", h100Base, cat2(sharing("mig"), on32b(`mig = "4g.40gb"`)), "nodes[0].instances[0].mig", tomlcheck.Missing,
			"nodes[0].instances[0].mig: sharing = \"mig\" needs each instance's partition; valid: 1g.10gb, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb"},
		{"unknown partition", h100Base, cat2(sharing("mig"), on8b(`mig = "3g.40gb"`), on32b(`mig = "3g.39gb"`)), "nodes[0].instances[1].mig", tomlcheck.NotFound,
			"nodes[0].instances[1].mig: h100-sxm has no MIG profile \"3g.39gb\"; valid: 1g.10gb, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb"},
		{"partitions over the slices", h100Base, cat2(sharing("mig"), on8b(`mig = "3g.40gb"`), third), "nodes[0].instances", tomlcheck.NoFit,
			"nodes[0].instances: MIG partitions take 9 of h100-sxm's 7 GPU slices and 12 of its 8 memory slices"},
		{"more than max_count", h100Base, cat2(sharing("mig"), on8b(`mig = "3g.40gb"`), third), "nodes[0].instances[2].mig", tomlcheck.NoFit,
			"nodes[0].instances[2].mig: h100-sxm holds at most 2 × 3g.40gb, and this is number 3"},
		{"weights over the partition", h100Base, cat2(sharing("mig"), on8b(`mig = "3g.40gb"`), []string{"quant = \"fp8\"", "quant = \"bf16\"\n  mig = \"1g.10gb\""}),
			"nodes[0].instances[1].mig", tomlcheck.NoFit,
			"nodes[0].instances[1].mig: qwen3-32b weights (61.02 GiB) and one KV block do not fit MIG 1g.10gb's 8.78 GiB (0.9 of 9.75 GiB): short by 52.25 GiB"},
		{"weights over the partition's fraction", h100Base, cat2(sharing("mig"), on8b("mig = \"2g.20gb\"\n  memory_fraction = 0.5"), on32b(`mig = "4g.40gb"`)),
			"nodes[0].instances[0].mig", tomlcheck.NoFit, "do not fit MIG 2g.20gb's 9.81 GiB (0.5 of 19.62 GiB)"},
		{"partition fraction out of range", h100Base, cat2(sharing("mig"), on8b("mig = \"3g.40gb\"\n  memory_fraction = 1.5"), on32b(`mig = "4g.40gb"`)),
			"nodes[0].instances[0].memory_fraction", tomlcheck.NoFit, "nodes[0].instances[0].memory_fraction: must be in (0, 1], got 1.5"},
		{"dynamic memory under mig", h100Base, cat2(sharing("mig"), []string{"count = 1", "count = 1\nmemory = \"dynamic\""}, on8b(`mig = "3g.40gb"`), on32b(`mig = "4g.40gb"`)),
			"nodes[0].memory", tomlcheck.Invalid, "nodes[0].memory: MIG partitions have memory of their own"},
		{"mig under the default sharing", h100Base, on8b(`mig = "3g.40gb"`), "nodes[0].instances[0].mig", tomlcheck.Invalid,
			"nodes[0].instances[0].mig: only with sharing = \"mig\", and sharing is unset (the default here is \"time-slice\")"},
		{"mig under mps", h100Base, cat2(sharing("mps"), on32b(`mig = "4g.40gb"`)), "nodes[0].instances[1].mig", tomlcheck.Invalid,
			"nodes[0].instances[1].mig: only with sharing = \"mig\", got sharing \"mps\""},
		{"thread pct without mps", h100Base, on8b("mps_active_thread_pct = 50"), "nodes[0].instances[0].mps_active_thread_pct", tomlcheck.Invalid,
			"nodes[0].instances[0].mps_active_thread_pct: only with sharing = \"mps\", and sharing is unset (the default here is \"time-slice\")"},
		{"thread pct under mig", h100Base, cat2(sharing("mig"), on8b("mig = \"3g.40gb\"\n  mps_active_thread_pct = 50"), on32b(`mig = "4g.40gb"`)),
			"nodes[0].instances[0].mps_active_thread_pct", tomlcheck.Invalid, "only with sharing = \"mps\", got sharing \"mig\""},
		{"thread pct over 100", h100Base, cat2(sharing("mps"), on32b("mps_active_thread_pct = 150")), "nodes[0].instances[1].mps_active_thread_pct", tomlcheck.OutOfRange,
			"nodes[0].instances[1].mps_active_thread_pct: must be in (0, 100], got 150"},
		{"negative thread pct", h100Base, cat2(sharing("mps"), on8b("mps_active_thread_pct = -5")), "nodes[0].instances[0].mps_active_thread_pct", tomlcheck.OutOfRange,
			"must be in (0, 100], got -5"},
		{"nan thread pct", h100Base, cat2(sharing("mps"), on8b("mps_active_thread_pct = nan")), "nodes[0].instances[0].mps_active_thread_pct", tomlcheck.OutOfRange,
			"must be a finite number"},
		{"one-process with vllm", h100Base, sharing("one-process"), "nodes[0].sharing", tomlcheck.Invalid,
			"nodes[0].sharing: vllm serves one model per process; one-process needs an engine that hosts several (llama.cpp, ollama)"},
		{"unknown sharing key", h100Base, on8b("priorty = 1"), "nodes.instances.priorty", tomlcheck.Unknown, "t.toml:35: nodes.instances.priorty: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := edit(t, tt.src, tt.edits...)
			_, err := Parse("t.toml", []byte(src), cat, profiles, nil)
			e := findField(t, err, tt.field)
			if e.Kind != tt.kind {
				t.Errorf("%s: kind %v, want %v", e, e.Kind, tt.kind)
			}
			if !strings.Contains(e.Error(), tt.want) {
				t.Errorf("error\n%s\ndoes not contain\n%s", e, tt.want)
			}
			checkMemoryFields(t, err)
		})
	}
}

// An unknown sharing is reported alone: the instances' mig and
// mps_active_thread_pct are not also called misplaced.
func TestUnknownSharingDoesNotCascade(t *testing.T) {
	src := edit(t, h100Base, "count = 1", "count = 1\nsharing = \"MIG\"", mig8b, mig8b+"\n  mig = \"3g.40gb\"\n  mps_active_thread_pct = 50")
	_, err := Parse("t.toml", []byte(src), cat, profiles, nil)
	findField(t, err, "nodes[0].sharing")
	for _, f := range []string{"nodes[0].instances[0].mig", "nodes[0].instances[0].mps_active_thread_pct"} {
		if strings.Contains(err.Error(), f+":") {
			t.Errorf("%s reported after an unknown sharing:\n%v", f, err)
		}
	}
}

// TestSharingResolves: what each accepted sharing puts on the nodes and
// their instances.
func TestSharingResolves(t *testing.T) {
	h100 := cat.Hardware["h100-sxm"]
	gib := float64(1 << 30)
	t.Run("time-slice by default on a GPU", func(t *testing.T) {
		sc := mustParse(t, h100Base)
		n := sc.Nodes[0]
		if n.Sharing != TimeSlice {
			t.Errorf("sharing %q, want time-slice", n.Sharing)
		}
		for _, in := range n.Instances {
			if in.Hardware.Name != "h100-sxm" || in.Hardware.SMs != 132 || in.MIG != "" || in.SMShare != 1 || in.Priority != 0 {
				t.Errorf("instance on %s (%d SMs), MIG %q, SM share %v, priority %d: want the whole H100", in.Hardware.Name, in.Hardware.SMs, in.MIG, in.SMShare, in.Priority)
			}
		}
	})
	t.Run("mps with thread caps and priorities", func(t *testing.T) {
		sc := mustParse(t, edit(t, h100Base, "count = 1", "count = 1\nsharing = \"mps\"",
			mig8b, mig8b+"\n  mps_active_thread_pct = 30\n  priority = 2", mig32b, mig32b+"\n  priority = -1"))
		n := sc.Nodes[0]
		if n.Sharing != MPS || n.Instances[0].SMShare != 0.3 || n.Instances[1].SMShare != 1 {
			t.Errorf("sharing %q, SM shares %v and %v; want mps, 0.3 and 1", n.Sharing, n.Instances[0].SMShare, n.Instances[1].SMShare)
		}
		if n.Instances[0].Priority != 2 || n.Instances[1].Priority != -1 {
			t.Errorf("priorities %d, %d; want 2, -1", n.Instances[0].Priority, n.Instances[1].Priority)
		}
	})
	t.Run("mig partitions", func(t *testing.T) {
		sc := mustParse(t, edit(t, h100Base, "count = 1", "count = 2\nsharing = \"mig\"",
			mig8b, mig8b+"\n  mig = \"3g.40gb\"\n  memory_fraction = 0.8\n  priority = 1", mig32b, mig32b+"\n  mig = \"4g.40gb\""))
		for _, n := range sc.Nodes {
			if n.Sharing != MIG || n.Hardware.SMs != 132 || n.Hardware.MIG == nil {
				t.Errorf("%s: sharing %q, node hardware %d SMs: want mig on the whole H100", n.Name, n.Sharing, n.Hardware.SMs)
			}
			for i, w := range []struct {
				mig      string
				sms      int
				memSlice float64
				budget   float64 // GiB
				priority int
			}{{"3g.40gb", 60, 4.0 / 8, 39.5 * 0.8, 1}, {"4g.40gb", 64, 4.0 / 8, 39.5 * 0.9, 0}} {
				in := n.Instances[i]
				hw := in.Hardware
				if in.MIG != w.mig || hw.SMs != w.sms || in.Priority != w.priority || in.SMShare != 1 {
					t.Errorf("instance %d: MIG %q, %d SMs, priority %d, SM share %v; want %s, %d, %d, 1", i, in.MIG, hw.SMs, in.Priority, in.SMShare, w.mig, w.sms, w.priority)
				}
				if math.Abs(in.BudgetBytes-w.budget*gib) > 1 {
					t.Errorf("instance %d: budget %.3f GiB, want %.3f (the partition's usable × the fraction)", i, in.BudgetBytes/gib, w.budget)
				}
				if want := h100.TFLOPSBF16 * float64(w.sms) / 132; math.Abs(hw.TFLOPSBF16-want) > 1e-9 {
					t.Errorf("instance %d: %v TFLOPS bf16, want %v", i, hw.TFLOPSBF16, want)
				}
				if want := h100.MemoryBandwidthGBs * w.memSlice; hw.MemoryBandwidthGBs != want {
					t.Errorf("instance %d: %v GB/s, want %v", i, hw.MemoryBandwidthGBs, want)
				}
			}
		}
	})
	t.Run("mig in the whole device", func(t *testing.T) {
		// Qwen3-32B in bf16 fits only 7g.80gb: 61.02 GiB of 79.25 × 0.9.
		sc := mustParse(t, edit(t, h100Base, "count = 1", "count = 1\nsharing = \"mig\"",
			"  [[nodes.instances]]\n  model = \"qwen3-8b\"\n  quant = \"bf16\"\n", "", "quant = \"fp8\"", "quant = \"bf16\"\n  mig = \"7g.80gb\"",
			"[models.qwen3-8b.workload.arrival]", "[models.qwen3-8b]\nmodel = \"qwen3-8b\"\n[models.qwen3-8b.workload.arrival]",
			"[[nodes]]", "[[nodes]]\nname = \"small\"\nhardware = \"h100-sxm\"\nengine = \"vllm\"\ncount = 1\n  [[nodes.instances]]\n  model = \"qwen3-8b\"\n  quant = \"bf16\"\n[[nodes]]"))
		var got []string
		for _, n := range sc.Nodes {
			for _, in := range n.Instances {
				got = append(got, n.Name+":"+string(n.Sharing)+":"+in.MIG)
			}
		}
		if strings.Join(got, " ") != "small:time-slice: h100:mig:7g.80gb" {
			t.Errorf("nodes %v", got)
		}
	})
	for _, engine := range []string{"llama.cpp", "ollama"} {
		t.Run("one-process with "+engine, func(t *testing.T) {
			sc := mustParse(t, edit(t, base, `engine = "llama.cpp"`, `engine = "`+engine+`"`, "count = 2", "count = 2\nsharing = \"one-process\""))
			if s := sc.Nodes[1].Sharing; s != OneProcess {
				t.Errorf("sharing %q, want one-process", s)
			}
		})
	}
	t.Run("mps by default on pinned cores", func(t *testing.T) {
		c, ps := *cat, maps.Clone(profiles)
		c.Hardware = maps.Clone(cat.Hardware)
		host := c.Hardware["dgx-spark"]
		host.Name, host.ComputeUnits = "cpu-host", 8
		c.Hardware[host.Name] = host
		prof, _ := profiles.Get("dgx-spark", "llama.cpp")
		prof.Hardware = host.Name
		ps.Add(prof)
		sc, err := Parse("t.toml", []byte(edit(t, base, `hardware = "dgx-spark"`, `hardware = "cpu-host"`)), &c, ps, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s := sc.Nodes[0].Sharing; s != MPS {
			t.Errorf("sharing on a host of 8 pinned cores %q, want mps", s)
		}
	})
}

// The sharing fields survive writing the scenario back to TOML.
func TestSharingRoundTrip(t *testing.T) {
	sc := mustParse(t, edit(t, h100Base, "count = 1", "count = 1\nsharing = \"mig\"",
		mig8b, mig8b+"\n  mig = \"3g.40gb\"\n  priority = 3", mig32b, mig32b+"\n  mig = \"4g.40gb\""))
	enc, err := sc.File.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back := mustParse(t, string(enc))
	a, b := sc.Nodes[0], back.Nodes[0]
	if b.Sharing != MIG || b.Instances[0].MIG != "3g.40gb" || b.Instances[0].Priority != 3 || b.Instances[1].MIG != a.Instances[1].MIG {
		t.Errorf("round trip: %q %q %d %q\n%s", b.Sharing, b.Instances[0].MIG, b.Instances[0].Priority, b.Instances[1].MIG, enc)
	}
}

func TestDefaultSharing(t *testing.T) {
	for _, tt := range []struct {
		units int
		want  Sharing
	}{{0, TimeSlice}, {1, TimeSlice}, {2, MPS}, {64, MPS}} {
		if got := DefaultSharing(catalog.Hardware{ComputeUnits: tt.units}); got != tt.want {
			t.Errorf("compute_units %d: %q, want %q", tt.units, got, tt.want)
		}
		if !tt.want.Valid() {
			t.Errorf("default %q is not one of %v", tt.want, Sharings)
		}
	}
}

func TestSharingSupported(t *testing.T) {
	h100, spark := cat.Hardware["h100-sxm"], cat.Hardware["dgx-spark"]
	for _, tt := range []struct {
		s      Sharing
		hw     catalog.Hardware
		engine string
		want   bool
	}{
		{MIG, h100, "vllm", true}, {MIG, spark, "llama.cpp", false},
		{OneProcess, spark, "llama.cpp", true}, {OneProcess, spark, "ollama", true}, {OneProcess, h100, "vllm", false}, {OneProcess, h100, "sglang", false},
		{TimeSlice, spark, "vllm", true}, {MPS, h100, "vllm", true}, {"", h100, "vllm", true}, {"shared", h100, "vllm", false},
	} {
		if got := tt.s.Supported(tt.hw, tt.engine); got != tt.want {
			t.Errorf("%q on %s with %s: %v, want %v", tt.s, tt.hw.Name, tt.engine, got, tt.want)
		}
	}
}

func mustParse(t *testing.T, src string) *Scenario {
	t.Helper()
	sc, err := Parse("t.toml", []byte(src), cat, profiles, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return sc
}

// TestPartitionDefaults: under MIG an instance's engine defaults follow its
// partition's memory, as the engine sees it: vLLM on a whole H100 (80 GiB)
// takes 1024 sequences and 8192 tokens, on a 3g.40gb partition (39.5 GiB)
// its smaller defaults, 256 and 2048; bounds the scenario sets stay.
func TestPartitionDefaults(t *testing.T) {
	whole := mustParse(t, h100Base)
	if in := whole.Nodes[0].Instances[0]; in.MaxSeqs != 1024 || in.MaxBatchedTokens != 8192 {
		t.Fatalf("whole H100: max_seqs %d, max_batched_tokens %d; want vLLM's 1024 and 8192", in.MaxSeqs, in.MaxBatchedTokens)
	}
	src := edit(t, h100Base, "count = 1", "count = 1\nsharing = \"mig\"",
		mig8b, mig8b+"\n  mig = \"3g.40gb\"\n  max_seqs = 64",
		mig32b, mig32b+"\n  mig = \"3g.40gb\"")
	sc := mustParse(t, src)
	a, b := sc.Nodes[0].Instances[0], sc.Nodes[0].Instances[1]
	if a.MaxSeqs != 64 || a.MaxBatchedTokens != 2048 {
		t.Errorf("8b on 3g.40gb: max_seqs %d (set 64), max_batched_tokens %d (want 2048)", a.MaxSeqs, a.MaxBatchedTokens)
	}
	if b.MaxSeqs != 256 || b.MaxBatchedTokens != 2048 || b.ChunkTokens != 2048 {
		t.Errorf("32b on 3g.40gb: max_seqs %d, max_batched_tokens %d, chunk_tokens %d; want 256, 2048, 2048", b.MaxSeqs, b.MaxBatchedTokens, b.ChunkTokens)
	}
}
