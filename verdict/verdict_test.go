package verdict

import (
	"math"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/tco"
	"github.com/fleettwin/fleettwin/twin"
)

// seedSLO is the seed scenarios' SLO: TTFT 3 s and TPOT 100 ms at p95,
// 90% of requests within.
func seedSLO(model string) SLO {
	return SLO{Model: model, TTFTS: 3, TPOTS: 0.1, Percentile: 95, Attainment: 0.9}
}

func model(name string, ttft, tpot, att float64, met bool) sim.ModelResult {
	return sim.ModelResult{Model: name, Completed: 100, SLOAttainment: att, SLOMet: met,
		TTFT: sim.Latency{P95: ttft, P99: 2 * ttft}, TPOT: sim.Latency{P95: tpot}, E2E: sim.Latency{P95: 20}}
}

func device(node string, util, throttledS float64) sim.DeviceResult {
	return sim.DeviceResult{Node: node, Hardware: "dgx-spark", Utilization: util - 0.005, WindowS: 3600, WindowUtilization: util,
		ThrottledS: throttledS, ThermalS: throttledS, ClockMean: 1 - throttledS/7200, TempPeakC: 63}
}

func simulation(name string, models []sim.ModelResult, devs []sim.DeviceResult, spend, perHour float64) *twin.Simulation {
	s := &twin.Simulation{Result: &sim.Result{Scenario: name, DurationS: 3600, WarmupS: 300, Models: models, Devices: devs}}
	if spend > 0 {
		s.Cost = &tco.Report{Scenario: name, HardwareSpendUSD: spend, USDPerHour: perHour, USDPerMTokens: perHour}
	}
	return s
}

func TestLatency(t *testing.T) {
	for _, tc := range []struct {
		name   string
		m      sim.ModelResult
		slo    *SLO
		status Status
		text   []string // each in the answer
		metric string
		value  float64
	}{
		{"meets", model("qwen3-8b", 2.06, 0.0559, 0.968, true), &SLO{Model: "qwen3-8b", TTFTS: 3, TPOTS: 0.1, Percentile: 95, Attainment: 0.9}, Pass,
			[]string{"qwen3-8b meets its SLO", "TTFT p95 2.06 s ≤ 3 s", "TPOT p95 55.9 ms ≤ 100 ms", "attainment 96.8% ≥ 90.0%"}, "attainment", 0.968},
		{"TTFT p95 misses while attainment passes", model("qwen3-14b", 3.30, 0.0958, 0.925, false), &SLO{Model: "qwen3-14b", TTFTS: 3, TPOTS: 0.1, Percentile: 95, Attainment: 0.9}, Fail,
			[]string{"qwen3-14b misses TTFT p95 3.30 s > 3 s", "meets TPOT p95 95.8 ms ≤ 100 ms, attainment 92.5% ≥ 90.0%"}, "TTFT p95", 3.30},
		{"two misses", model("m", 4, 0.2, 0.5, false), &SLO{Model: "m", TTFTS: 3, TPOTS: 0.1, Percentile: 95, Attainment: 0.9}, Fail,
			[]string{"m misses TTFT p95 4.00 s > 3 s and TPOT p95 200.0 ms > 100 ms and attainment 50.0% < 90.0%"}, "TTFT p95", 4},
		{"attainment alone", model("m", 1, 0.05, 0.85, false), &SLO{Model: "m", TTFTS: 3, Percentile: 95, Attainment: 0.9}, Fail,
			[]string{"m misses attainment 85.0% < 90.0% (meets TTFT p95 1.00 s ≤ 3 s)"}, "attainment", 0.85},
		{"at p99", model("m", 1, 0.05, 0.95, false), &SLO{Model: "m", TTFTS: 1.5, Percentile: 99, Attainment: 0.9}, Fail,
			[]string{"m misses TTFT p99 2.00 s > 1.5 s"}, "TTFT p99", 2},
		{"a percentile the result lacks: the run's answer stands", model("m", 1, 0.05, 0.95, false), &SLO{Model: "m", TTFTS: 1.5, Percentile: 80, Attainment: 0.9}, Fail,
			[]string{"m misses its SLO at p80"}, "attainment", 0.95},
		{"no SLO recorded, met", model("m", 1, 0.05, 0.95, true), nil, Pass, []string{"m meets its SLO (the targets are not recorded with the result)"}, "", math.NaN()},
		{"no SLO recorded, missed", model("m", 1, 0.05, 0.95, false), nil, Fail, []string{"m misses its SLO (the targets are not recorded"}, "", math.NaN()},
		{"nothing completed", sim.ModelResult{Model: "m", SLOAttainment: math.NaN()}, &SLO{Model: "m", TTFTS: 3, Percentile: 95, Attainment: 0.9}, Fail,
			[]string{"no request completed"}, "", math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := modelLatency(tc.m, tc.slo)
			if got.Status != tc.status {
				t.Errorf("status %q, want %q (%s)", got.Status, tc.status, got.Text)
			}
			for _, s := range tc.text {
				if !strings.Contains(got.Text, s) {
					t.Errorf("text %q lacks %q", got.Text, s)
				}
			}
			if got.Metric != tc.metric || !(got.Value == tc.value || math.IsNaN(got.Value) && math.IsNaN(tc.value)) {
				t.Errorf("metric %q = %v, want %q = %v", got.Metric, got.Value, tc.metric, tc.value)
			}
		})
	}
}

func TestUtilization(t *testing.T) {
	many := make([]sim.DeviceResult, 10)
	for i := range many {
		many[i] = device(string(rune('a'+i)), 0.75+0.01*float64(i), 0)
	}
	for _, tc := range []struct {
		name   string
		devs   []sim.DeviceResult
		opt    Options
		status Status
		text   string
		value  float64
	}{
		{"one device above the seed's 70%", []sim.DeviceResult{device("spark", 0.785, 0)}, Options{}, Pass,
			"utilization 78.5% ≥ 70.0% (after warm-up; target 70.0%: the seed claim's >70%)", 0.785},
		{"two below", []sim.DeviceResult{device("spark-8b", 0.509, 0), device("spark-14b", 0.42, 0)}, Options{}, Fail,
			"utilization < 70.0% on 2 of 2 devices: spark-8b 50.9%, spark-14b 42.0% (mean 46.5%)", 0.42},
		{"a target of its own", []sim.DeviceResult{device("spark", 0.785, 0)}, Options{Utilization: 0.8, UtilizationSource: "the plan's"}, Fail,
			"utilization 78.5% < 80.0% (after warm-up; target 80.0%: the plan's)", 0.785},
		{"a fleet names its lowest", many, Options{}, Pass, "utilization ≥ 70.0% on all 10 devices: lowest 75.0% (a), mean 79.5%", 0.75},
		{"a fleet counts those below", many, Options{Utilization: 0.8}, Fail, "utilization < 80.0% on 5 of 10 devices: lowest 75.0% (a), mean 79.5%", 0.75},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := utilization(simulation("s", nil, tc.devs, 0, 0), tc.opt)
			if got.Status != tc.status || !strings.Contains(got.Text, tc.text) || math.Abs(got.Value-tc.value) > 1e-12 {
				t.Errorf("got %s %q (%v), want %s containing %q (%v)", got.Status, got.Text, got.Value, tc.status, tc.text, tc.value)
			}
		})
	}
}

func TestThrottling(t *testing.T) {
	cooled := simulation("s", nil, []sim.DeviceResult{device("spark", 0.8, 0)}, 0, 0)
	hot := simulation("s", nil, []sim.DeviceResult{device("spark", 0.8, 1800)}, 0, 0)
	hot.Throttling = []sim.ThrottleCost{{Model: "qwen3-8b", TTFTP95: sim.Delta{Pct: 124.8}, TPOTP95: sim.Delta{Pct: 19.7}},
		{Model: "qwen3-14b", TTFTP95: sim.Delta{Pct: 28.4}, TPOTP95: sim.Delta{Pct: 20.9}}}
	two := simulation("s", nil, []sim.DeviceResult{device("a", 0.8, 10), device("b", 0.8, 20)}, 0, 0)
	for _, tc := range []struct {
		name   string
		s      *twin.Simulation
		status Status
		text   string
	}{
		{"none", cooled, Pass, "no throttling: every device at full clock all run (peak 63.0 C)"},
		{"heat, priced", hot, Fail, "spark throttled 50.0% of the run, held by heat (mean clock 75.0%, peak 63.0 C); against full clock qwen3-8b TTFT p95 +124.8%, TPOT p95 +19.7%"},
		{"several", two, Fail, "2 of 2 devices throttled; most b throttled 0.6% of the run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := throttling(tc.s)
			if got.Status != tc.status || !strings.Contains(got.Text, tc.text) {
				t.Errorf("got %s %q, want %s containing %q", got.Status, got.Text, tc.status, tc.text)
			}
		})
	}
}

func TestCost(t *testing.T) {
	slos := []SLO{seedSLO("qwen3-8b"), seedSLO("qwen3-14b")}
	sep := Run{SLOs: slos, Sim: simulation("seed-separate", []sim.ModelResult{model("qwen3-8b", 0.92, 0.032, 0.997, true), model("qwen3-14b", 2.02, 0.057, 0.99, true)},
		[]sim.DeviceResult{device("spark-8b", 0.509, 0), device("spark-14b", 0.42, 0)}, 9398, 0.38155)}
	colo := Run{SLOs: slos, Sim: simulation("seed-colocated", []sim.ModelResult{model("qwen3-8b", 2.06, 0.056, 0.968, true), model("qwen3-14b", 3.58, 0.0958, 0.905, false)},
		[]sim.DeviceResult{device("spark", 0.785, 0)}, 4699, 0.194484)}
	mps := Run{SLOs: slos, Sim: simulation("seed-colocated-mps", []sim.ModelResult{model("qwen3-8b", 0.985, 0.036, 0.995, true), model("qwen3-14b", 2.13, 0.06, 0.988, true)},
		[]sim.DeviceResult{device("spark", 0.726, 0)}, 4699, 0.1945)}
	for _, tc := range []struct {
		name       string
		run, base  Run
		status     Status
		text, lack []string
	}{
		{"cheaper and meets every SLO", mps, sep, Pass, []string{"against seed-separate: hardware spend 50.0% lower ($4,699 against $9,398), cost 49.0% lower ($0.1945/h against $0.3816/h)"}, []string{"but"}},
		{"cheaper but misses an SLO the baseline meets", colo, sep, Caveat, []string{"hardware spend 50.0% lower", "but qwen3-14b misses TTFT p95 3.58 s > 3 s", "where the baseline meets every SLO"}, nil},
		{"dearer", sep, colo, Fail, []string{"hardware spend 100.0% higher ($9,398 against $4,699)"}, []string{"but"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cost(tc.run, tc.base)
			if got.Status != tc.status {
				t.Errorf("status %s, want %s: %s", got.Status, tc.status, got.Text)
			}
			for _, s := range tc.text {
				if !strings.Contains(got.Text, s) {
					t.Errorf("text %q lacks %q", got.Text, s)
				}
			}
			for _, s := range tc.lack {
				if strings.Contains(got.Text, s) {
					t.Errorf("text %q has %q", got.Text, s)
				}
			}
		})
	}
	// The whole verdict: the summary never calls the cheaper fleet's
	// saving a pass while it misses an SLO.
	v := Of(colo, Options{Baseline: &sep})
	if v.Holds || v.Baseline != "seed-separate" {
		t.Errorf("verdict holds %v against %q, want false against seed-separate", v.Holds, v.Baseline)
	}
	if want := "holds on utilization and throttling; not on latency and cost: qwen3-14b misses TTFT p95 3.58 s > 3 s; " +
		"hardware spend 50.0% lower than seed-separate (cost 49.0% lower), but not at the same latency"; v.Summary != want {
		t.Errorf("summary %q, want %q", v.Summary, want)
	}
	if v := Of(mps, Options{Baseline: &sep}); !v.Holds || v.Summary != "holds on latency, utilization, throttling and cost: hardware spend 50.0% lower than seed-separate (cost 49.0% lower)" {
		t.Errorf("mps: holds %v, summary %q", v.Holds, v.Summary)
	}
}

func TestNoBaseline(t *testing.T) {
	s := simulation("seed-colocated", []sim.ModelResult{model("qwen3-8b", 2, 0.05, 0.97, true)}, []sim.DeviceResult{device("spark", 0.785, 0)}, 4699, 0.194484)
	v := Of(Run{Sim: s, SLOs: []SLO{seedSLO("qwen3-8b")}}, Options{})
	last := v.Answers[len(v.Answers)-1]
	if last.Question != Cost || last.Status != Unknown || last.Text != "hardware $4,699, $0.1945/h: no baseline to compare with" {
		t.Errorf("cost answer %+v", last)
	}
	if !v.Holds {
		t.Errorf("an unknown answer made the verdict fail: %s", v.Summary)
	}
	if v := Of(Run{}, Options{}); v.Holds || v.Summary != "no result to judge" {
		t.Errorf("empty run: %+v", v)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Seconds(3.5787), "3.58 s"}, {Seconds(3), "3.00 s"}, {Seconds(0.1), "100.0 ms"}, {Seconds(0.0559), "55.9 ms"},
		{Seconds(142.44), "142.4 s"}, {Seconds(7500), "7,500 s"}, {Seconds(math.NaN()), "-"},
		{Limit(3), "3 s"}, {Limit(0.1), "100 ms"}, {Limit(2.5), "2.5 s"},
		{Percent(0.7), "70.0%"}, {USD(4699, 0), "$4,699"}, {USD(3e6, 0), "$3,000,000"}, {USD(0.19448, 4), "$0.1945"},
		{USD(-1234.5, 1), "-$1,234.5"}, {Thousands("123"), "123"}, {Thousands("-1234567.89"), "-1,234,567.89"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// A stopped run's verdict says it covers only what ran, and never holds.
func TestPartial(t *testing.T) {
	s := simulation("s", []sim.ModelResult{model("m", 1, 0.05, 0.97, true)}, []sim.DeviceResult{device("spark", 0.8, 0)}, 4699, 0.19)
	s.Partial, s.DurationS = true, 1234
	v := Of(Run{Sim: s, SLOs: []SLO{seedSLO("m")}}, Options{})
	if v.Holds || !strings.HasPrefix(v.Summary, "partial run (stopped after 1,234 simulated seconds): holds on latency") {
		t.Errorf("partial: holds %v, %q", v.Holds, v.Summary)
	}
}

// Over replicas each question counts the replicas that pass, and why the
// others fail.
func TestReplicas(t *testing.T) {
	slos := []SLO{seedSLO("qwen3-14b")}
	run := func(ttft, util, throttled float64) *sim.Result {
		met := ttft <= 3
		return simulation("s", []sim.ModelResult{model("qwen3-14b", ttft, 0.09, 0.92, met)}, []sim.DeviceResult{device("spark", util, throttled)}, 0, 0).Result
	}
	got := Replicas([]*sim.Result{run(3.2, 0.78, 0), run(2.9, 0.75, 0), run(3.6, 0.69, 10)}, slos, Options{})
	var lines []string
	for _, ta := range got {
		lines = append(lines, ta.String())
	}
	want := "qwen3-14b latency: 1 of 3 replicas pass (TTFT p95 misses on 2); utilization: 2 of 3 replicas pass (utilization misses on 1); throttling: 2 of 3 replicas pass (throttled on 1)"
	if s := strings.Join(lines, "; "); s != want {
		t.Errorf("got  %s\nwant %s", s, want)
	}
}
