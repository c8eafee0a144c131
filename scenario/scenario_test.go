package scenario

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
)

var (
	cat         = catalog.Default()
	profiles, _ = perf.DefaultProfiles()
)

const base = `name = "t"
seed = 1
duration_s = 600
warmup_s = 60

[models.qwen3-8b.slo]
ttft_s = 2.0

[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 1.0

[models.qwen3-8b.workload.input]
dist = "fixed"
value = 512

[models.qwen3-8b.workload.output]
dist = "fixed"
value = 128

[[nodes]]
name = "spark"
hardware = "dgx-spark"
engine = "llama.cpp"
count = 2

  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "q4_k_m"
`

func TestParseGood(t *testing.T) {
	sc, err := Parse("t.toml", []byte(base), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Nodes) != 2 || sc.Nodes[1].Name != "spark-1" {
		t.Fatalf("nodes %+v: want the group expanded into spark-0, spark-1", sc.Nodes)
	}
	in := sc.Nodes[0].Instances[0]
	if in.MaxSeqs != 4 || in.MaxBatchedTokens != 2048 || !in.ChunkedPrefill || in.BlockTokens != 16 {
		t.Errorf("llama.cpp defaults not applied: %+v", in)
	}
	m := sc.Models[0]
	if m.SLO.Percentile != 95 || m.SLO.Attainment != 0.9 || len(m.Targets) != 1 || m.Targets[0].TTFTS != 2 {
		t.Errorf("SLO defaults not applied: %+v %+v", m.SLO, m.Targets)
	}
	if sc.Warmup.Seconds() != 60 || sc.Duration.Seconds() != 600 {
		t.Errorf("times %v %v", sc.Warmup, sc.Duration)
	}
	if sc.Site != DefaultSite || sc.Cost != DefaultCost {
		t.Errorf("site %+v, cost %+v: want the defaults", sc.Site, sc.Cost)
	}
	n, hw := sc.Nodes[0], cat.Hardware["dgx-spark"]
	if n.Power.IdleW != hw.IdlePowerW || n.Power.CapW != hw.PowerLimitW || n.Thermal.AmbientC != DefaultSite.AmbientC ||
		n.Thermal.ResistanceCPerW != hw.ThermalResistanceCPerW || n.Governor.SlowdownC != hw.SlowdownTempC || n.PriceUSD != hw.PriceUSD {
		t.Errorf("node physics and prices not from the catalog: %+v %+v %+v $%v", n.Power, n.Thermal, n.Governor, n.PriceUSD)
	}
}

// Knobs on a node group override the catalog and the site; the heat
// sink's capacity stays when the cooling changes.
func TestPhysicsOverrides(t *testing.T) {
	src := strings.Replace(base, "count = 2", "count = 2\npower_cap_w = 100\nambient_c = 35\nthermal_resistance_c_per_w = 0.9\nprice_usd = 3999", 1)
	src = strings.Replace(src, "warmup_s = 60", "warmup_s = 60\n[site]\nambient_c = 20\n[cost]\nfinancing_rate = 0.07", 1)
	sc, err := Parse("t.toml", []byte(src), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, hw := sc.Nodes[1], cat.Hardware["dgx-spark"]
	if n.Power.CapW != 100 || n.Thermal.AmbientC != 35 || n.Thermal.ResistanceCPerW != 0.9 || n.PriceUSD != 3999 {
		t.Errorf("overrides not applied: %+v %+v $%v", n.Power, n.Thermal, n.PriceUSD)
	}
	if c := hw.ThermalTimeConstantS / hw.ThermalResistanceCPerW; n.Thermal.CapacityJPerC != c {
		t.Errorf("heat capacity %v J/C, want the catalog's %v", n.Thermal.CapacityJPerC, c)
	}
	if sc.Site.AmbientC != 20 || sc.Site.PUE != DefaultSite.PUE || sc.Cost.FinancingRate != 0.07 || sc.Cost.AmortizationYears != 3 {
		t.Errorf("site %+v cost %+v", sc.Site, sc.Cost)
	}
}

// TestParseErrors: each mistake is reported with the file, the line and
// the field, and memory problems say by how much.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     []string
	}{
		{"unknown key", `seed = 1`, "seed = 1\nsead = 2", []string{"t.toml:3: sead: unknown field"}},
		{"unknown model", `[models.qwen3-8b.slo]`, "[models.qwen3-7b]\n[models.qwen3-8b.slo]", []string{"models.qwen3-7b", "nearest is qwen3-8b"}},
		{"unknown hardware", `hardware = "dgx-spark"`, `hardware = "dgx-sprak"`, []string{"t.toml:23: nodes[0].hardware: unknown hardware \"dgx-sprak\""}},
		{"no profile", `engine = "llama.cpp"`, `engine = "sglang"`, []string{"t.toml:24: nodes[0].engine", "no profile for hardware \"dgx-spark\" with engine \"sglang\""}},
		{"unknown quant", `quant = "q4_k_m"`, `quant = "q3"`, []string{"t.toml:29: nodes[0].instances[0].quant", "unknown weight format"}},
		{"instance of unserved model", `model = "qwen3-8b"
  quant`, `model = "qwen3-14b"
  quant`, []string{"t.toml:28: nodes[0].instances[0].model: no served model \"qwen3-14b\"", "models.qwen3-8b: no node runs an instance"}},
		{"warm-up too long", `warmup_s = 60`, `warmup_s = 600`, []string{"t.toml:4: warmup_s"}},
		{"bad rate", `rate = 1.0`, `rate = -1.0`, []string{"t.toml:11: models.qwen3-8b.workload.arrival.rate"}},
		{"unquoted dotted name", `[models.qwen3-8b.slo]`, "[models.qwen3-0.6b.slo]\nttft_s = 1.0\n[models.qwen3-8b.slo]", []string{`write [models."qwen3-0.6b"]`}},
		{"bad count", `count = 2`, `count = 0`, []string{"t.toml:25: nodes[0].count: must be at least 1"}},
		{"bad router", `warmup_s = 60`, "warmup_s = 60\nrouter = \"random\"", []string{"router: unknown router \"random\""}},
		{"bad SLO class", `ttft_s = 2.0`, "ttft_s = 2.0\nclasses.batch.ttft_s = 9.0", []string{"models.qwen3-8b.slo.classes.batch: no workload class named \"batch\""}},
		{"does not fit (static)", `quant = "q4_k_m"`, "quant = \"bf16\"\n  memory_fraction = 0.1", []string{
			"t.toml:30: nodes[0].instances[0].memory_fraction", "weights (15.26 GiB) and one KV block do not fit the instance's 11.97 GiB", "short by 3.29 GiB"}},
		{"cap above the limit", `count = 2`, "count = 2\npower_cap_w = 300", []string{"t.toml:26: nodes[0].power_cap_w: must be above the idle power (30 W) and at most dgx-spark's power limit (140 W), got 300"}},
		{"cap below idle", `count = 2`, "count = 2\npower_cap_w = 20", []string{"nodes[0].power_cap_w"}},
		{"bad cooling", `count = 2`, "count = 2\nthermal_resistance_c_per_w = -1", []string{"t.toml:26: nodes[0].thermal_resistance_c_per_w: must be in (0, 10)"}},
		{"bad node ambient", `count = 2`, "count = 2\nambient_c = 120", []string{"t.toml:26: nodes[0].ambient_c"}},
		{"bad site", `warmup_s = 60`, "warmup_s = 60\n[site]\nambient_c = 99\npue = 0.5\nelectricity_usd_per_kwh = -1", []string{
			"t.toml:6: site.ambient_c", "t.toml:7: site.pue: must be between 1 and 5, got 0.5", "t.toml:8: site.electricity_usd_per_kwh"}},
		{"bad cost", `warmup_s = 60`, "warmup_s = 60\n[cost]\npricing = \"lease\"\nfinancing_rate = 5\namortization_years = -3", []string{
			"t.toml:6: cost.pricing: unknown pricing \"lease\"; valid: own, cloud", "t.toml:7: cost.financing_rate", "t.toml:8: cost.amortization_years"}},
		{"cloud without a price", `warmup_s = 60`, "warmup_s = 60\n[cost]\npricing = \"cloud\"", []string{"nodes[0].cloud_usd_per_hour: cost.pricing is \"cloud\" but dgx-spark has no cloud price"}},
		{"unknown site key", `warmup_s = 60`, "warmup_s = 60\n[site]\nambiant_c = 30", []string{"t.toml:6: site.ambiant_c: unknown field"}},
		{"does not fit (dynamic)", `model = "qwen3-8b"
  quant = "q4_k_m"`, `model = "qwen3-8b"
  quant = "bf16"
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "bf16"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("base has no %q", tt.old)
			}
			src := strings.Replace(base, tt.old, tt.new, 1)
			_, err := Parse("t.toml", []byte(src), cat, profiles, nil)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("two Qwen3-8B bf16 instances fit a Spark: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestDynamicMemoryDoesNotFit(t *testing.T) {
	src := strings.Replace(base, `count = 2`, "count = 1\nmemory = \"dynamic\"", 1)
	src = strings.Replace(src, `quant = "q4_k_m"`, `quant = "bf16"`, 1)
	src = strings.Replace(src, "  model = \"qwen3-8b\"\n  quant = \"bf16\"", "  model = \"qwen3-8b\"\n  quant = \"q4_k_m\"\n  [[nodes.instances]]\n  model = \"qwen3-235b-a22b\"\n  quant = \"bf16\"", 1)
	src = strings.Replace(src, `[models.qwen3-8b.slo]`, "[models.qwen3-235b-a22b.workload.arrival]\nprocess = \"poisson\"\nrate = 1.0\n[models.qwen3-235b-a22b.workload.input]\ndist = \"fixed\"\nvalue = 1\n[models.qwen3-235b-a22b.workload.output]\ndist = \"fixed\"\nvalue = 1\n[models.qwen3-8b.slo]", 1)
	_, err := Parse("t.toml", []byte(src), cat, profiles, nil)
	if err == nil || !strings.Contains(err.Error(), "weights of the instances (442.52 GiB) exceed dgx-spark's 113.72 GiB budget by 328.81 GiB") {
		t.Fatalf("Qwen3-235B in bf16 on one Spark: error %v, want the shortfall", err)
	}
}

func TestTraceAndEmpiricalFiles(t *testing.T) {
	src := strings.Replace(base, "process = \"poisson\"\nrate = 1.0", "process = \"trace\"\ntrace = \"trace.csv\"", 1)
	src = strings.Replace(src, "dist = \"fixed\"\nvalue = 128", "dist = \"empirical\"\nfile = \"out.txt\"", 1)
	files := fstest.MapFS{
		"trace.csv": {Data: []byte("arrival_s,input_tokens,output_tokens\n0.5,100,20\n1.5,200,30\n")},
		"out.txt":   {Data: []byte("# lengths\n10,1\n20,3\n")},
	}
	sc, err := Parse("t.toml", []byte(src), cat, profiles, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Models[0].Trace) != 2 || len(sc.Models[0].OutputDist) != 2 {
		t.Fatalf("trace %v, output distribution %v", sc.Models[0].Trace, sc.Models[0].OutputDist)
	}
	delete(files, "trace.csv")
	if _, err := Parse("t.toml", []byte(src), cat, profiles, files); err == nil || !strings.Contains(err.Error(), "models.qwen3-8b.workload.arrival.trace: read trace.csv") {
		t.Fatalf("missing trace: error %v", err)
	}
	files["trace.csv"] = &fstest.MapFile{Data: []byte("arrival_s,input_tokens,output_tokens\n2,100,20\n1,100,20\n")}
	if _, err := Parse("t.toml", []byte(src), cat, profiles, files); err == nil || !strings.Contains(err.Error(), "trace.csv:3") {
		t.Fatalf("unsorted trace: error %v, want one naming trace.csv line 3", err)
	}
}

// TestEncodeRoundTrip: a scenario written back to TOML parses to the same.
func TestEncodeRoundTrip(t *testing.T) {
	data, err := os.ReadFile("../scenarios/seed-colocated.toml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := Parse("seed.toml", data, cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := sc.File.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("back.toml", enc, cat, profiles, nil)
	if err != nil {
		t.Fatalf("re-encoded scenario does not parse: %v\n%s", err, enc)
	}
	again, _ := back.File.Encode()
	if string(again) != string(enc) {
		t.Errorf("encoding is not stable:\n%s\n---\n%s", enc, again)
	}
	if len(back.Nodes) != len(sc.Nodes) || back.Models[1].Workload.Arrival.Rate != sc.Models[1].Workload.Arrival.Rate {
		t.Error("round trip changed the scenario")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	for _, p := range []string{"../scenarios/seed-colocated.toml", "../scenarios/seed-separate.toml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("[[nodes]]\n[[nodes.instances]]\n[[nodes]]\n"))
	// Issue 11: non-finite, huge and nested values.
	for _, r := range [][2]string{
		{"duration_s = 600", "duration_s = inf"}, {"duration_s = 600", "duration_s = nan"}, {"duration_s = 600", "duration_s = 1e12"},
		{"warmup_s = 60", "warmup_s = nan\nseries_resolution_s = 1e-9"}, {"count = 2", "count = 100000"},
		{"rate = 1.0", "rate = 1e9"}, {"value = 512", "value = 4294967300"},
		{"warmup_s = 60", "warmup_s = 60\nx = " + strings.Repeat("{a = ", 40) + "1" + strings.Repeat("}", 40)},
		{"warmup_s = 60", "warmup_s = 60\n" + strings.Repeat("a.", 40) + "a = 1"},
	} {
		f.Add([]byte(strings.Replace(base, r[0], r[1], 1)))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		sc, err := Parse("fuzz.toml", src, cat, profiles, nil)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if len(sc.Models) == 0 || len(sc.Nodes) == 0 || sc.Duration <= 0 {
			t.Fatalf("accepted a scenario with nothing to run: %+v", sc)
		}
		for _, n := range sc.Nodes {
			for _, in := range n.Instances {
				if in.MaxSeqs < 1 || in.MaxBatchedTokens < 1 || in.BlockTokens < 1 || !(in.WeightBytes < in.BudgetBytes) {
					t.Fatalf("accepted an instance that cannot run: %+v", in)
				}
			}
		}
	})
}

// TestEncodeSeedRange: a seed TOML cannot hold is refused, not written as a
// file Parse would reject.
func TestEncodeSeedRange(t *testing.T) {
	f := &File{Name: "big", Seed: 1 << 63}
	if _, err := f.Encode(); err == nil || !strings.Contains(err.Error(), "seed 9223372036854775808") {
		t.Errorf("Encode: %v, want an error naming the seed", err)
	}
	f.Seed = 1<<63 - 1
	enc, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(enc), "seed = 9223372036854775807") {
		t.Errorf("largest seed not written:\n%s", enc)
	}
}
