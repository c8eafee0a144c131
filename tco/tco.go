// Package tco prices a simulated fleet: what its hardware costs per hour,
// owned (purchase amortized with optional financing, energy at the site's
// tariff and PUE, hosting, support) or rented by the hour, and what that
// makes a million tokens, a request and an hour of useful work cost. Every
// assumption a figure rests on is listed with it.
package tco

import (
	"fmt"
	"math"

	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

// HoursPerYear is 365 days; a month is a twelfth of a year.
const (
	HoursPerYear  = 8760
	HoursPerMonth = HoursPerYear / 12
)

// Report is the cost of one simulated run.
type Report struct {
	Scenario string           `json:"scenario"`
	Pricing  scenario.Pricing `json:"pricing"` // one of scenario.Pricings

	Nodes []NodeCost `json:"nodes"`
	// HardwareSpendUSD is the purchase price of the fleet.
	HardwareSpendUSD float64 `json:"hardware_spend_usd"`
	USDPerHour       float64 `json:"usd_per_hour"`
	CapexUSDPerHour  float64 `json:"capex_usd_per_hour"`
	EnergyUSDPerHour float64 `json:"energy_usd_per_hour"`
	OtherUSDPerHour  float64 `json:"other_usd_per_hour"`  // hosting, support, or rent
	EnergyKWhPerHour float64 `json:"energy_kwh_per_hour"` // at the meter (PUE included)

	// Per token: the hourly cost shared between prompt and generated
	// tokens by the device time each took; blended over both.
	USDPerMInputTokens  float64 `json:"usd_per_m_input_tokens"`
	USDPerMOutputTokens float64 `json:"usd_per_m_output_tokens"`
	USDPerMTokens       float64 `json:"usd_per_m_tokens"`
	USDPerRequest       float64 `json:"usd_per_request"`
	// Utilization is the fleet's mean busy share after warm-up, and
	// USDPerBusyHour the hourly cost divided by it: what an hour of
	// actual work costs.
	Utilization    float64 `json:"utilization"`
	USDPerBusyHour float64 `json:"usd_per_busy_hour"`
	// BreakEvenMonths is when buying beats renting the same devices at
	// their cloud price (owned pricing only; NaN if no cloud price, +Inf
	// if renting is cheaper than merely running owned hardware).
	BreakEvenMonths float64 `json:"break_even_months"`
	CloudUSDPerHour float64 `json:"cloud_usd_per_hour"` // renting the same devices

	Models      []ModelCost `json:"models"`
	Assumptions []string    `json:"assumptions"`
}

// NodeCost is one node's hourly cost.
type NodeCost struct {
	Node             string  `json:"node"`
	Hardware         string  `json:"hardware"`
	PriceUSD         float64 `json:"price_usd"`
	PowerW           float64 `json:"power_w"` // node mean after warm-up, before PUE
	Utilization      float64 `json:"utilization"`
	CapexUSDPerHour  float64 `json:"capex_usd_per_hour"`
	EnergyUSDPerHour float64 `json:"energy_usd_per_hour"`
	OtherUSDPerHour  float64 `json:"other_usd_per_hour"`
	USDPerHour       float64 `json:"usd_per_hour"`
	// Held is, for a node of an autoscaled group, the share of the window
	// it was held; renting, it pays for that share only.
	Held float64 `json:"held,omitempty"`
}

// ModelCost is a served model's share: each node's cost split among its
// instances by the device time they took (idle time shared alike).
type ModelCost struct {
	Model               string  `json:"model"`
	USDPerHour          float64 `json:"usd_per_hour"`
	USDPerMInputTokens  float64 `json:"usd_per_m_input_tokens"`
	USDPerMOutputTokens float64 `json:"usd_per_m_output_tokens"`
	USDPerMTokens       float64 `json:"usd_per_m_tokens"`
	USDPerRequest       float64 `json:"usd_per_request"`
}

// AnnualPayment is what a purchase costs per year over years at an annual
// rate: the annuity that repays it, or an even split at rate 0.
func AnnualPayment(price, rate, years float64) float64 {
	if rate == 0 {
		return price / years
	}
	return price * rate / (1 - math.Pow(1+rate, -years))
}

// Evaluate prices a run of the scenario. The run's device figures after
// warm-up and its token rates are what the costs are spread over.
func Evaluate(sc *scenario.Scenario, res *sim.Result) (*Report, error) {
	if len(res.Devices) != len(sc.Nodes) {
		return nil, fmt.Errorf("cost %s: %d devices in the result, %d nodes in the scenario", sc.Name, len(res.Devices), len(sc.Nodes))
	}
	site, cost := sc.Site, sc.Cost
	r := &Report{Scenario: sc.Name, Pricing: cost.Pricing}
	type share struct{ prefill, decode float64 } // USD/h
	models := map[string]*share{}
	var utilSum float64
	for i, n := range sc.Nodes {
		d := res.Devices[i]
		var powerW float64
		if d.WindowS > 0 {
			powerW = d.WindowNodeEnergyJ / d.WindowS
		}
		nc, err := NodeHourly(cost, site, n, powerW)
		if err != nil {
			return nil, fmt.Errorf("cost %s: %w", sc.Name, err)
		}
		nc.Utilization = d.WindowUtilization
		if d.WindowHeldS != nil && d.WindowS > 0 {
			// An autoscaled node: rented only while held; owned, it is
			// bought all the same and its energy is already its own.
			nc.Held = *d.WindowHeldS / d.WindowS
			if cost.Pricing == scenario.PricingCloud {
				nc.OtherUSDPerHour *= nc.Held
				nc.USDPerHour = nc.CapexUSDPerHour + nc.EnergyUSDPerHour + nc.OtherUSDPerHour
			}
		}
		if cost.Pricing != scenario.PricingCloud {
			r.EnergyKWhPerHour += nc.PowerW / 1000 * site.PUE
		}
		r.Nodes = append(r.Nodes, nc)
		r.HardwareSpendUSD += n.PriceUSD
		r.USDPerHour += nc.USDPerHour
		r.CapexUSDPerHour += nc.CapexUSDPerHour
		r.EnergyUSDPerHour += nc.EnergyUSDPerHour
		r.OtherUSDPerHour += nc.OtherUSDPerHour
		r.CloudUSDPerHour += n.CloudUSDPerHour
		utilSum += d.WindowUtilization

		var busy float64
		for _, in := range d.Instances {
			busy += in.PrefillS + in.DecodeS
		}
		for _, in := range d.Instances {
			if busy <= 0 {
				break
			}
			sh := models[in.Model]
			if sh == nil {
				sh = &share{}
				models[in.Model] = sh
			}
			sh.prefill += nc.USDPerHour * in.PrefillS / busy
			sh.decode += nc.USDPerHour * in.DecodeS / busy
		}
	}
	r.Utilization = utilSum / float64(max(len(sc.Nodes), 1))
	if len(sc.Autoscale) > 0 {
		r.Utilization = heldUtilization(res)
	}
	r.USDPerBusyHour = r.USDPerHour / r.Utilization

	var inRate, outRate, reqRate, prefillUSD, decodeUSD float64
	for _, m := range res.Models {
		mc := ModelCost{Model: m.Model}
		inRate += m.InputTokensPerS
		outRate += m.OutputTokensPerS
		reqRate += m.RequestsPerS
		if sh := models[m.Model]; sh != nil {
			prefillUSD += sh.prefill
			decodeUSD += sh.decode
			mc.USDPerHour = sh.prefill + sh.decode
			mc.USDPerMInputTokens = perMillion(sh.prefill, m.InputTokensPerS)
			mc.USDPerMOutputTokens = perMillion(sh.decode, m.OutputTokensPerS)
			mc.USDPerMTokens = perMillion(mc.USDPerHour, m.InputTokensPerS+m.OutputTokensPerS)
			mc.USDPerRequest = perUnit(mc.USDPerHour, m.RequestsPerS)
		} else {
			mc.USDPerMInputTokens, mc.USDPerMOutputTokens, mc.USDPerMTokens, mc.USDPerRequest = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		}
		r.Models = append(r.Models, mc)
	}
	// The fleet's cost goes to prompt and generated tokens in the
	// proportion the models' shares split it, so that the two add up to
	// the whole hourly cost, idle devices included.
	inShare := 0.5
	if prefillUSD+decodeUSD > 0 {
		inShare = prefillUSD / (prefillUSD + decodeUSD)
	}
	r.USDPerMInputTokens = perMillion(r.USDPerHour*inShare, inRate)
	r.USDPerMOutputTokens = perMillion(r.USDPerHour*(1-inShare), outRate)
	r.USDPerMTokens = perMillion(r.USDPerHour, inRate+outRate)
	r.USDPerRequest = perUnit(r.USDPerHour, reqRate)

	r.BreakEvenMonths = math.NaN()
	if cost.Pricing == scenario.PricingOwn && r.CloudUSDPerHour > 0 {
		running := r.EnergyUSDPerHour + r.OtherUSDPerHour
		if saved := r.CloudUSDPerHour - running; saved > 0 {
			r.BreakEvenMonths = r.HardwareSpendUSD / (saved * HoursPerMonth)
		} else {
			r.BreakEvenMonths = math.Inf(1)
		}
	}
	r.Assumptions = assumptions(sc)
	return r, nil
}

// heldUtilization is the fleet's busy share over the time its nodes were
// held: an autoscaled node that is off is neither busy nor paid for.
func heldUtilization(res *sim.Result) float64 {
	var busy, held float64
	for _, d := range res.Devices {
		h := d.WindowS
		if d.WindowHeldS != nil {
			h = *d.WindowHeldS
		}
		busy += d.WindowUtilization * d.WindowS
		held += h
	}
	if held <= 0 {
		return 0
	}
	return busy / held
}

// NodeHourly is what node n costs per hour while it draws powerW (device
// and host, before PUE) under the pricing in cost. The planner prices a
// node at idle power with it to bound a configuration's cost from below.
func NodeHourly(cost scenario.Cost, site scenario.Site, n scenario.Node, powerW float64) (NodeCost, error) {
	nc := NodeCost{Node: n.Name, Hardware: n.Hardware.Name, PriceUSD: n.PriceUSD, PowerW: powerW}
	switch cost.Pricing {
	case scenario.PricingCloud:
		if n.CloudUSDPerHour <= 0 {
			return nc, fmt.Errorf("node %s: pricing is cloud but %s has no cloud_usd_per_hour (set it on the node group)", n.Name, n.Hardware.Name)
		}
		nc.OtherUSDPerHour = n.CloudUSDPerHour
	default:
		nc.CapexUSDPerHour = AnnualPayment(n.PriceUSD, cost.FinancingRate, cost.AmortizationYears) / HoursPerYear
		nc.EnergyUSDPerHour = powerW / 1000 * site.PUE * site.ElectricityUSDPerKWh
		nc.OtherUSDPerHour = cost.HostingUSDPerMonth/HoursPerMonth + n.PriceUSD*cost.SupportPctPerYear/100/HoursPerYear
	}
	nc.USDPerHour = nc.CapexUSDPerHour + nc.EnergyUSDPerHour + nc.OtherUSDPerHour
	return nc, nil
}

func perMillion(usdPerHour, tokensPerS float64) float64 {
	if tokensPerS <= 0 {
		return math.NaN()
	}
	return usdPerHour / (tokensPerS * 3600) * 1e6
}

func perUnit(usdPerHour, perS float64) float64 {
	if perS <= 0 {
		return math.NaN()
	}
	return usdPerHour / (perS * 3600)
}

// assumptions lists what the figures rest on, in words a reader can
// challenge.
func assumptions(sc *scenario.Scenario) []string {
	site, cost := sc.Site, sc.Cost
	var out []string
	if cost.Pricing == scenario.PricingCloud {
		out = append(out, "pricing: rented by the device-hour at the listed cloud price (power and hosting included in it)")
	} else {
		fin := "no financing"
		if cost.FinancingRate > 0 {
			fin = fmt.Sprintf("financed at %.1f%% a year", 100*cost.FinancingRate)
		}
		out = append(out,
			fmt.Sprintf("pricing: bought, written off over %g years, %s", cost.AmortizationYears, fin),
			fmt.Sprintf("energy: $%.3g/kWh at a PUE of %.2g", site.ElectricityUSDPerKWh, site.PUE),
			fmt.Sprintf("hosting: $%.0f per node per month; support: %.0f%% of the price a year", cost.HostingUSDPerMonth, cost.SupportPctPerYear))
	}
	seen := map[string]bool{}
	for _, n := range sc.Nodes {
		if seen[n.Group] {
			continue
		}
		seen[n.Group] = true
		cloud := "not offered for rent"
		if n.CloudUSDPerHour > 0 {
			cloud = fmt.Sprintf("$%.2f/h to rent", n.CloudUSDPerHour)
		}
		out = append(out, fmt.Sprintf("%s (%s): $%.0f each, %s; idle %.0f W, cap %.0f W, host %.0f W; %.2f C/W to %.0f C air, slowdown at %.0f C",
			n.Group, n.Hardware.Name, n.PriceUSD, cloud, n.Power.IdleW, n.Power.CapW, n.HostW,
			n.Thermal.ResistanceCPerW, n.Thermal.AmbientC, n.Governor.SlowdownC))
	}
	for _, g := range sc.Autoscale {
		a := g.Rule
		pays := "rented only while held (booting, serving or draining)"
		if cost.Pricing != scenario.PricingCloud {
			pays = "bought for its max all the same; off nodes draw no power"
		}
		out = append(out, fmt.Sprintf("%s: autoscaled %d-%d nodes on %s (target %g, scraped every %g s, scale-down window %g s), cold start %.0f s (boot %g s, weights at %g GB/s, warm-up %g s); %s",
			g.Group, a.Min, a.Max, a.Policy, a.Target, a.ScrapeS, a.ScaleDownWindowS, g.ColdStartS, a.BootS, a.LoadGBs, a.WarmupS, pays))
	}
	out = append(out, "per-token split: each device's cost shared by the time its instances spent on prompt and generated tokens, idle time alike")
	return out
}

// Comparison sets a candidate against a baseline.
type Comparison struct {
	Baseline  string `json:"baseline"`
	Candidate string `json:"candidate"`
	// Savings in percent of the baseline; negative means the candidate
	// costs more.
	HardwareSavingPct float64 `json:"hardware_saving_pct"`
	HourlySavingPct   float64 `json:"hourly_saving_pct"`
	PerTokenSavingPct float64 `json:"per_token_saving_pct"`
}

// Compare reports what the candidate saves against the baseline.
func Compare(baseline, candidate *Report) Comparison {
	saving := func(b, c float64) float64 { return 100 * (b - c) / b }
	return Comparison{Baseline: baseline.Scenario, Candidate: candidate.Scenario,
		HardwareSavingPct: saving(baseline.HardwareSpendUSD, candidate.HardwareSpendUSD),
		HourlySavingPct:   saving(baseline.USDPerHour, candidate.USDPerHour),
		PerTokenSavingPct: saving(baseline.USDPerMTokens, candidate.USDPerMTokens)}
}
