package sim

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/jsonfmt"
)

// disaggScenario is Qwen3-8B (FP8) on two H100s under vLLM with chunked
// prefill, Poisson arrivals at rate with lognormal prompts of mean input
// tokens and outputs of mean output tokens: co-located (two instances
// doing both) when disagg is false, else one prefill and one decode
// instance over network (a [network] table's body, or empty for the
// default 400 Gb/s).
func disaggScenario(disagg bool, rate float64, input, output int, network string) string {
	roleP, roleD := "", ""
	if disagg {
		roleP, roleD = `role = "prefill"`, `role = "decode"`
	}
	net := ""
	if network != "" {
		net = "[network]\n" + network
	}
	return fmt.Sprintf(`
name = "disagg"
seed = 7
duration_s = 600
warmup_s = 60
%s
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = %v
[models.qwen3-8b.workload.input]
dist = "lognormal"
mean = %d.0
stddev = %d.0
max = 32768
[models.qwen3-8b.workload.output]
dist = "lognormal"
mean = %d.0
stddev = %d.0
max = 4096
[[nodes]]
name = "a"
hardware = "h100-sxm"
engine = "vllm"
count = 1
%s
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"
[[nodes]]
name = "b"
hardware = "h100-sxm"
engine = "vllm"
count = 1
%s
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"
`, net, rate, input, input/2, output, output/2, roleP, roleD)
}

// disaggPair runs a workload co-located and disaggregated on the same two
// H100s and logs both (go test ./sim -run TestDisaggregation -v prints
// the table of docs/simulator.md).
func disaggPair(t *testing.T, name string, rate float64, input, output int, network string) (co, dis ModelResult) {
	t.Helper()
	for _, disagg := range []bool{false, true} {
		res := run(t, parse(t, disaggScenario(disagg, rate, input, output, network)), Options{})
		checkInvariants(t, name, res)
		m := res.Models[0]
		if m.Completed == 0 {
			t.Fatalf("%s (disaggregated %v): nothing completed", name, disagg)
		}
		kv := "-"
		if m.KVTransferS != nil {
			kv = fmt.Sprintf("p50 %.4f p95 %.4f s, %.0f MB", m.KVTransferS.P50, m.KVTransferS.P95, m.KVTransferBytes/1e6)
		}
		t.Logf("%-28s disagg=%-5v done %5d  TTFT p95 %7.3f  TPOT p50 %.4f p95 %.4f  E2E p95 %7.2f  kv %s",
			name, disagg, m.Completed, m.TTFT.P95, m.TPOT.P50, m.TPOT.P95, m.E2E.P95, kv)
		if disagg {
			dis = m
		} else {
			co = m
		}
	}
	if co.KVTransferS != nil || dis.KVTransferS == nil || dis.KVTransfers == 0 {
		t.Errorf("%s: kv_transfer_s only on the disaggregated run: %v, %v", name, co.KVTransferS, dis.KVTransferS)
	}
	return co, dis
}

// TestDisaggregationPays: long prompts (8k tokens, a whole 8192-token
// step each) mixed into the decode batches of short answers (64 tokens)
// stretch a co-located decode step by a prefill chunk, often; a decode
// pool of its own decodes undisturbed, so TPOT p95 falls by a third on
// the same two H100s, though the one prefill instance queues (TTFT p95
// doubles), and the 1.2 GB KV crosses 400 Gb/s in 24 ms.
func TestDisaggregationPays(t *testing.T) {
	co, dis := disaggPair(t, "long prompts, 400 Gb/s", 2.5, 8192, 64, "")
	if !(dis.TPOT.P95 < 0.8*co.TPOT.P95) {
		t.Errorf("TPOT p95: disaggregated %.4f s, co-located %.4f s: want at least 20%% lower", dis.TPOT.P95, co.TPOT.P95)
	}
}

// TestDisaggregationDoesNotPay: with short prompts there is little
// prefill to take out of the decode batches, and one decode instance
// carries the decodes two co-located ones shared, so TPOT grows; and the
// workload where it pays, over a 25 Gb/s link, spends 0.4 s sending each
// 1.2 GB KV, the decode instance's receive queue nearly saturated: the
// transfer dominates TPOT.
func TestDisaggregationDoesNotPay(t *testing.T) {
	for _, tt := range []struct {
		name          string
		rate          float64
		input, output int
		network       string
	}{
		{"short prompts, 400 Gb/s", 6, 256, 512, ""},
		{"long prompts, 25 Gb/s", 2.5, 8192, 64, "bandwidth_gbs = 3.125\n"},
	} {
		co, dis := disaggPair(t, tt.name, tt.rate, tt.input, tt.output, tt.network)
		if dis.TPOT.P95 < co.TPOT.P95 {
			t.Errorf("%s: TPOT p95 disaggregated %.4f s < co-located %.4f s: want no gain", tt.name, dis.TPOT.P95, co.TPOT.P95)
		}
	}
}

// TestDisaggDeterministic: the shipped disaggregated scenario gives
// byte-identical JSON run after run and at any GOMAXPROCS, and its
// requests all take the prefill pool then the decode pool (every
// completion is a transfer that started, the router over each pool).
func TestDisaggDeterministic(t *testing.T) {
	enc := func(procs int) []byte {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		res := run(t, load(t, "../scenarios/disagg-h100.toml"), Options{})
		checkInvariants(t, "disagg-h100", res)
		m := res.Models[0]
		if m.KVTransfers < m.Completed {
			t.Errorf("%d transfers for %d completions", m.KVTransfers, m.Completed)
		}
		b, err := jsonfmt.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if a, b := enc(1), enc(4); !bytes.Equal(a, b) {
		t.Fatal("GOMAXPROCS 1 and 4 differ")
	}
}

// TestKVTransferTime holds a transfer to latency + bytes / bandwidth, and
// two prompts sent at once to the FIFO: the second, prefilled one step
// (0.11 s) after the first, waits on the link until the first KV is
// through, so it takes nearly two transfers. Qwen3-8B's KV is 147,456 bytes per token at fp16
// (36 layers × 8 KV heads × 128 × K and V × 2 bytes), so a 4096-token
// prompt ships 604 MB: 0.604 s at 1 GB/s, plus 1 ms of latency.
func TestKVTransferTime(t *testing.T) {
	const bytes = 4096 * 147456.0
	one := bytes/1e9 + 0.001
	for _, tt := range []struct {
		name     string
		arrival  string
		p50, max float64 // max within 20% below
	}{
		{"alone", "process = \"poisson\"\nrate = 0.05", one, one},
		{"two at once", "process = \"closed\"\nconcurrency = 2\nthink_s = 30.0", one, one + bytes/1e9},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := disaggScenario(true, 1, 4096, 64, "bandwidth_gbs = 1.0\nlatency_us = 1000.0\n")
			src = strings.Replace(src, "process = \"poisson\"\nrate = 1", tt.arrival, 1)
			src = strings.Replace(src, "dist = \"lognormal\"\nmean = 4096.0\nstddev = 2048.0", "dist = \"fixed\"\nvalue = 4096", 1)
			src = strings.Replace(src, "warmup_s = 60", "warmup_s = 0", 1)
			res := run(t, parse(t, src), Options{})
			m := res.Models[0]
			if m.KVTransfers == 0 || m.KVTransferBytes != bytes {
				t.Fatalf("%d transfers of %v bytes, want %v", m.KVTransfers, m.KVTransferBytes, bytes)
			}
			if got := m.KVTransferS.P50; math.Abs(got/tt.p50-1) > 2*SketchAlpha {
				t.Errorf("kv_transfer_s p50 = %.6f s, want %.6f s", got, tt.p50)
			}
			if got := m.KVTransferS.Max; !(got > 0.8*tt.max && got <= tt.max*(1+2*SketchAlpha)) {
				t.Errorf("kv_transfer_s max = %.6f s, want in (%.6f, %.6f] s", got, 0.8*tt.max, tt.max)
			}
		})
	}
}

// TestDisaggBookkeeping: every decode instance holds exactly the blocks
// its running requests and its segment need at every snapshot of the
// shipped disaggregated scenario. A request whose KV arrived while a
// decoding step was being planned used to join the running set without
// its first token's block, then be credited that step's token.
func TestDisaggBookkeeping(t *testing.T) {
	sc := load(t, "../scenarios/disagg-h100.toml")
	var sm *simulator
	sm, err := newSimulator(sc, Options{SnapshotEvery: 10e9, OnSnapshot: func(Snapshot) { checkBookkeeping(t, "disagg-h100", sm) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
