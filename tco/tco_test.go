package tco

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

func TestAnnualPayment(t *testing.T) {
	for _, tc := range []struct {
		price, rate, years, want float64
	}{
		{9000, 0, 3, 3000},
		{10000, 0.05, 3, 3672.0856}, // standard annuity table
		{10000, 0.10, 5, 2637.9748},
	} {
		if got := AnnualPayment(tc.price, tc.rate, tc.years); math.Abs(got-tc.want) > 1e-4 {
			t.Errorf("AnnualPayment(%v, %v, %v) = %v, want %v", tc.price, tc.rate, tc.years, got, tc.want)
		}
	}
	// Financing never makes a purchase cheaper.
	if AnnualPayment(5000, 0.01, 3) <= AnnualPayment(5000, 0, 3) {
		t.Error("1% financing is cheaper than none")
	}
}

var (
	cat         = catalog.Default()
	profiles, _ = perf.DefaultProfiles()
)

func spark(t *testing.T, rate float64, costs string) (*scenario.Scenario, *sim.Result) {
	t.Helper()
	src := fmt.Sprintf(`
name = "spark-%v"
seed = 1
duration_s = 3600
warmup_s = 60
%s
[models.qwen3-8b.workload]
arrival = { process = "poisson", rate = %v }
input = { dist = "fixed", value = 512 }
output = { dist = "fixed", value = 128 }
[[nodes]]
name = "spark"
hardware = "dgx-spark"
engine = "llama.cpp"
count = 1
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "q4_k_m"
  max_seqs = 8
`, rate, costs, rate)
	sc, err := scenario.Parse("test.toml", []byte(src), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sim.Run(t.Context(), sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sc, res
}

// The report's figures follow from its assumptions by hand arithmetic.
func TestEvaluateByHand(t *testing.T) {
	sc, res := spark(t, 0.2, `
[site]
electricity_usd_per_kwh = 0.30
pue = 1.5
[cost]
amortization_years = 4
hosting_usd_per_month = 73
support_pct_per_year = 10`)
	r, err := Evaluate(sc, res)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Devices[0]
	watts := d.WindowNodeEnergyJ / d.WindowS
	price := cat.Hardware["dgx-spark"].PriceUSD
	capex := price / 4 / 8760
	energy := watts / 1000 * 1.5 * 0.30
	other := 73.0/730 + price*0.10/8760
	hourly := capex + energy + other
	m := res.Models[0]
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"capex $/h", r.CapexUSDPerHour, capex},
		{"energy $/h", r.EnergyUSDPerHour, energy},
		{"other $/h", r.OtherUSDPerHour, other},
		{"$/h", r.USDPerHour, hourly},
		{"kWh/h", r.EnergyKWhPerHour, watts / 1000 * 1.5},
		{"$/M blended", r.USDPerMTokens, hourly / ((m.InputTokensPerS + m.OutputTokensPerS) * 3600) * 1e6},
		{"$/request", r.USDPerRequest, hourly / (m.RequestsPerS * 3600)},
		{"$/busy hour", r.USDPerBusyHour, hourly / d.WindowUtilization},
		// Input and output shares add back up to the hourly cost.
		{"input + output $/h", r.USDPerMInputTokens*m.InputTokensPerS*3600/1e6 + r.USDPerMOutputTokens*m.OutputTokensPerS*3600/1e6, hourly},
		{"model $/h", r.Models[0].USDPerHour, hourly},
	} {
		if math.Abs(c.got-c.want) > 1e-9*math.Abs(c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !math.IsNaN(r.BreakEvenMonths) {
		t.Errorf("break-even %v months for hardware that is not for rent", r.BreakEvenMonths)
	}
	text := strings.Join(r.Assumptions, "\n")
	for _, want := range []string{"4 years", "$0.3/kWh", "PUE of 1.5", "$73 per node", "10%", "$4699"} {
		if !strings.Contains(text, want) {
			t.Errorf("assumptions do not say %q:\n%s", want, text)
		}
	}
}

func TestCloudAndBreakEven(t *testing.T) {
	sc, res := spark(t, 0.2, "")
	sc.Cost.Pricing = "cloud"
	if _, err := Evaluate(sc, res); err == nil || !strings.Contains(err.Error(), "cloud_usd_per_hour") {
		t.Errorf("cloud pricing without a cloud price: %v", err)
	}
	sc.Nodes[0].CloudUSDPerHour = 1.0
	r, err := Evaluate(sc, res)
	if err != nil {
		t.Fatal(err)
	}
	if r.USDPerHour != 1.0 || r.CapexUSDPerHour != 0 || r.EnergyUSDPerHour != 0 {
		t.Errorf("rented: $%v/h (capex %v, energy %v), want the rent alone", r.USDPerHour, r.CapexUSDPerHour, r.EnergyUSDPerHour)
	}
	sc.Cost.Pricing = "own"
	r, err = Evaluate(sc, res)
	if err != nil {
		t.Fatal(err)
	}
	// Buying pays back when the rent saved covers the price.
	saved := (1.0 - r.EnergyUSDPerHour - r.OtherUSDPerHour) * HoursPerMonth * r.BreakEvenMonths
	if math.Abs(saved-r.HardwareSpendUSD) > 1e-6 {
		t.Errorf("break-even after %v months saves $%v, price $%v", r.BreakEvenMonths, saved, r.HardwareSpendUSD)
	}
	sc.Nodes[0].CloudUSDPerHour = 0.001
	if r, _ = Evaluate(sc, res); !math.IsInf(r.BreakEvenMonths, 1) {
		t.Errorf("rent below the running cost: break-even %v, want +Inf", r.BreakEvenMonths)
	}
}

// At fixed hardware, more traffic spreads the same hours over more tokens.
func TestCostPerTokenFallsAsUtilizationRises(t *testing.T) {
	prevUtil, prevCost := 0.0, math.Inf(1)
	for _, rate := range []float64{0.02, 0.05, 0.1, 0.2, 0.4} {
		sc, res := spark(t, rate, "")
		r, err := Evaluate(sc, res)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("rate %v/s: utilization %.1f%%, $%.4f/h, $%.4f per M tokens", rate, 100*r.Utilization, r.USDPerHour, r.USDPerMTokens)
		if !(r.Utilization > prevUtil && r.USDPerMTokens < prevCost) {
			t.Errorf("rate %v: utilization %.3f (was %.3f), $/M %.4f (was %.4f)", rate, r.Utilization, prevUtil, r.USDPerMTokens, prevCost)
		}
		prevUtil, prevCost = r.Utilization, r.USDPerMTokens
	}
}

func TestCompare(t *testing.T) {
	a := &Report{Scenario: "a", HardwareSpendUSD: 10000, USDPerHour: 2, USDPerMTokens: 1}
	b := &Report{Scenario: "b", HardwareSpendUSD: 6000, USDPerHour: 2.5, USDPerMTokens: 0.5}
	got := Compare(a, b)
	want := Comparison{Baseline: "a", Candidate: "b", HardwareSavingPct: 40, HourlySavingPct: -25, PerTokenSavingPct: 50}
	if got != want {
		t.Errorf("Compare = %+v, want %+v", got, want)
	}
}
