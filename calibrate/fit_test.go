package calibrate

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/calibrate/openai"
	"github.com/fleettwin/fleettwin/calibrate/telemetry"
	"github.com/fleettwin/fleettwin/catalog"
)

func TestFitPower(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ss []telemetry.Sample
	for range 200 {
		u := 100 * rng.Float64()
		ss = append(ss, telemetry.Sample{UtilPct: u, PowerW: 30 + 1.1*u + rng.NormFloat64(), Has: telemetry.Fields{Power: true}})
	}
	p, note := FitPower(ss)
	if p == nil {
		t.Fatal(note)
	}
	if math.Abs(p.IdleW-30) > 1 || math.Abs(p.DynamicW-110) > 2 || p.RMSEW > 1.3 || p.IdleWStdErr <= 0 {
		t.Errorf("fit %+v, want idle 30 W and 110 W dynamic", p)
	}
	if p, note := FitPower(ss[:5]); p != nil || !strings.Contains(note, "5 samples") {
		t.Errorf("5 samples: %v %q", p, note)
	}
}

// TestFitPowerScope: the fit records what its watts measured and mixes no
// scopes; a host sample from before power_scope was RAPL.
func TestFitPowerScope(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sample := func(dev, scope string, idle, dyn float64) telemetry.Sample {
		u := 100 * rng.Float64()
		return telemetry.Sample{Device: dev, PowerScope: scope, UtilPct: u, PowerW: idle + dyn*u/100, Has: telemetry.Fields{Power: true}}
	}
	var gpuRail, mixed, oldHost, oldGPU []telemetry.Sample
	for i := range 100 {
		gpuRail = append(gpuRail, sample("gpu0", telemetry.ScopeGPURail, 4, 60))
		mixed = append(mixed, sample("gpu0", telemetry.ScopeGPURail, 4, 60))
		if i < 30 {
			mixed = append(mixed, sample("host", telemetry.ScopeHostRAPL, 20, 200))
		}
		oldHost = append(oldHost, sample("host", "", 20, 200))
		oldGPU = append(oldGPU, sample("gpu0", "", 60, 600))
	}
	for _, c := range []struct {
		name      string
		samples   []telemetry.Sample
		scope     string
		idle, dyn float64
		note      string
	}{
		{"GB10", gpuRail, telemetry.ScopeGPURail, 4, 60, ""},
		{"mixed: the majority is fitted", mixed, telemetry.ScopeGPURail, 4, 60, `30 power samples of scope "host-rapl" left out of the "gpu-rail" fit`},
		{"old host samples", oldHost, telemetry.ScopeHostRAPL, 20, 200, ""},
		{"old GPU samples", oldGPU, "", 60, 600, "do not say what they measured"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, note := FitPower(c.samples)
			if p == nil {
				t.Fatal(note)
			}
			if p.Scope != c.scope || math.Abs(p.IdleW-c.idle) > 0.01 || math.Abs(p.DynamicW-c.dyn) > 0.01 {
				t.Errorf("fit %+v, want %v + %v W on %q", p, c.idle, c.dyn, c.scope)
			}
			if c.note == "" && note != "" || !strings.Contains(note, c.note) {
				t.Errorf("note %q, want %q", note, c.note)
			}
		})
	}
}

// rcTrace is a simulated RC trace with a square wave of power, dt apart.
func rcTrace(R, C, amb, dt float64) []telemetry.Sample {
	temp := amb
	rng := rand.New(rand.NewPCG(5, 6))
	var ss []telemetry.Sample
	for i := range 6000 {
		p := 40.0
		if (i/1000)%2 == 1 {
			p = 200
		}
		ss = append(ss, telemetry.Sample{Device: "gpu0", PowerW: p, TempC: temp, Has: telemetry.Fields{Power: true, Temp: true}})
		temp += dt/(R*C)*(amb+R*p-temp) + 0.002*rng.NormFloat64() // process noise
	}
	return ss
}

// TestFitThermal recovers R, C and ambient from a simulated RC trace with
// a square wave of power.
func TestFitThermal(t *testing.T) {
	const R, C, amb, dt = 0.3, 400.0, 25.0, 0.1
	ss := rcTrace(R, C, amb, dt)
	for i := range ss {
		ss[i].ThermalThrottled = ss[i].TempC > 70
	}
	th, note := FitThermal(ss, dt)
	if th == nil {
		t.Fatal(note)
	}
	if math.Abs(th.ResistanceCPerW-R) > 0.01 || math.Abs(th.CapacityJPerC-C)/C > 0.03 || math.Abs(th.AmbientC-amb) > 0.5 {
		t.Errorf("fit %+v, want R %v C %v ambient %v", th, R, C, amb)
	}
	if !(th.ResistanceStdErr > 0 && th.ResistanceStdErr < 0.01 && th.TimeConstantStdErr > 0 && th.AmbientStdErr > 0) {
		t.Errorf("standard errors %+v", th)
	}
	if th.ThrottleOnsetC < 70 || th.ThrottleOnsetC > 71 {
		t.Errorf("throttle onset %v", th.ThrottleOnsetC)
	}
	// Constant temperature carries no information.
	for i := range ss {
		ss[i].TempC = 40
	}
	if th, note := FitThermal(ss, dt); th != nil || !strings.Contains(note, "not fitted") {
		t.Errorf("flat trace: %+v %q", th, note)
	}
}

// TestFitThermalOnset: only heat sets the throttle onset. A card at its
// power cap is held at any temperature, here from 45 °C; the thermal
// slowdown comes at 65 °C. Samples from before the split carry the raw
// mask, which says the same.
func TestFitThermalOnset(t *testing.T) {
	const dt = 0.1
	capped := func(s *telemetry.Sample) {
		s.ThrottleReasons, s.Throttled, s.PowerCapped = telemetry.ReasonSwPowerCap, true, true
	}
	hot := func(s *telemetry.Sample) {
		s.ThrottleReasons |= telemetry.ReasonSwThermalSlowdown
		s.Throttled, s.ThermalThrottled = true, true
	}
	for _, c := range []struct {
		name string
		mark func(s *telemetry.Sample)
		want float64 // onset in [want, want+1); 0: none
	}{
		{"power-capped, never hot", func(s *telemetry.Sample) {
			if s.TempC > 45 {
				capped(s)
			}
		}, 0},
		{"power-capped from 45 °C, thermal from 65 °C", func(s *telemetry.Sample) {
			if s.TempC > 45 {
				capped(s)
			}
			if s.TempC > 65 {
				hot(s)
			}
		}, 65},
		{"old sample: throttled and the thermal bit only", func(s *telemetry.Sample) {
			if s.TempC > 65 {
				s.ThrottleReasons, s.Throttled = telemetry.ReasonSwThermalSlowdown, true
			}
		}, 65},
		{"old sample: throttled by a hardware slowdown, cause unsaid", func(s *telemetry.Sample) {
			if s.TempC > 45 {
				s.ThrottleReasons, s.Throttled = telemetry.ReasonHwSlowdown, true
			}
		}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			ss := rcTrace(0.3, 400, 25, dt)
			for i := range ss {
				c.mark(&ss[i])
			}
			th, note := FitThermal(ss, dt)
			if th == nil {
				t.Fatal(note)
			}
			if got := th.ThrottleOnsetC; c.want == 0 && got != 0 || c.want != 0 && (got < c.want || got >= c.want+1) {
				t.Errorf("throttle onset %v °C, want %v", got, c.want)
			}
		})
	}
}

// rec builds a record that streams n tokens one per step from first.
func rec(sent time.Time, firstMS, stepMS float64, n int) RequestRecord {
	r := RequestRecord{Record: openai.Record{Sent: sent, OutputTokens: n, PromptTokens: 10}}
	ms := func(x float64) int64 { return int64(x * 1e6) }
	r.FirstNS = ms(firstMS)
	for i := range n {
		r.ChunkNS = append(r.ChunkNS, ms(firstMS+float64(i)*stepMS))
	}
	r.EndNS = r.ChunkNS[n-1] + 1
	return r
}

func TestDecodeSteps(t *testing.T) {
	t0 := time.Unix(1000, 0)
	// Alone: 3 ms steps. Two together (overlapping decodes): 7 ms steps.
	recs := []RequestRecord{
		rec(t0, 10, 3, 30),
		rec(t0.Add(time.Second), 10, 7, 30),
		rec(t0.Add(time.Second), 10.5, 7, 30),
	}
	got := decodeSteps(recs)
	if len(got) != 2 || got[0].Batch != 1 || got[1].Batch != 2 {
		t.Fatalf("%+v", got)
	}
	if math.Abs(got[0].Seconds-0.003) > 1e-6 || math.Abs(got[1].Seconds-0.007) > 1e-6 {
		t.Errorf("step times %+v", got)
	}
}

func TestPromptShaper(t *testing.T) {
	// A tokenizer of 0.25 tokens per character plus a 20-token template.
	server := func(chars int) int { return 20 + chars/4 }
	var sh promptShaper
	sh.perChar = 1
	rng := rand.New(rand.NewPCG(3, 4))
	var last int
	for i := range 6 {
		target := 100 + 50*i
		p := sh.prompt(rng, target)
		last = server(len(p)) - target
		sh.observe(len(p), server(len(p)))
	}
	if last < -2 || last > 2 {
		t.Errorf("after 6 requests the prompt is %d tokens off", last)
	}
	a, b := sh.prompt(rand.New(rand.NewPCG(1, 1)), 300), sh.prompt(rand.New(rand.NewPCG(1, 2)), 300)
	if a[:20] == b[:20] {
		t.Error("prompts share a prefix: the server's prefix cache would skip work")
	}
}

func TestReadRequestsTornLine(t *testing.T) {
	dir := t.TempDir()
	line := `{"experiment":"a","attempt":1,"model":"m","seq":0,"target_input":8,"max_tokens":4,"sent":"2026-01-01T00:00:00Z","first_ns":5,"chunk_ns":[5],"chunk_chars":[1],"end_ns":9,"prompt_tokens":8,"output_tokens":4,"status":200}`
	write := func(content string) {
		if err := os.WriteFile(filepath.Join(dir, RequestsFile), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(line + "\n" + line + "\n" + line[:40])
	recs, skipped, err := ReadRequests(dir)
	if err != nil || len(recs) != 2 || skipped != 1 {
		t.Errorf("torn last line: %d records, %d skipped, %v", len(recs), skipped, err)
	}
	write(line + "\n" + line[:40] + "\n" + line + "\n")
	if _, _, err := ReadRequests(dir); err == nil || !strings.Contains(err.Error(), "requests.jsonl:2") {
		t.Errorf("torn line in the middle: %v", err)
	}
	latest := Latest([]RequestRecord{{Experiment: "a", Attempt: 1}, {Experiment: "a", Attempt: 2}, {Experiment: "b", Attempt: 1}})
	if len(latest["a"]) != 1 || latest["a"][0].Attempt != 2 || len(latest["b"]) != 1 {
		t.Errorf("latest %+v", latest)
	}
}

// A calibration of gpt-oss-20b in its MXFP4 release fits a step model
// that reads its experts in MXFP4 and its other weights in their own
// format, as the scenarios it is used in do; a dense model keeps one.
func TestPlanInstanceFormats(t *testing.T) {
	cat := catalog.Default()
	kv, err := cat.KVType("fp16")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		arch, format, engine string
		dense, experts       string
	}{
		{"gpt-oss-20b", "mxfp4", "llama.cpp", "q8_0", "mxfp4"},
		{"gpt-oss-20b", "mxfp4", "vllm", "bf16", "mxfp4"},
		{"qwen3-8b", "q8_0", "llama.cpp", "q8_0", "q8_0"},
	} {
		in, err := planInstance(cat, PlanModel{Name: "m", Arch: tc.arch, Format: tc.format}, tc.engine, kv)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.arch, tc.format, err)
		}
		experts := in.Experts.Name
		if experts == "" {
			experts = in.Weights.Name
		}
		if in.Weights.Name != tc.dense || experts != tc.experts {
			t.Errorf("%s %s on %s: dense %s, experts %s; want %s, %s", tc.arch, tc.format, tc.engine, in.Weights.Name, experts, tc.dense, tc.experts)
		}
	}
}
