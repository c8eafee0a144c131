package sim

import (
	"math"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/sketch"
)

var nan = math.NaN()

// Result is what a run measured. Rates and latencies cover requests that
// arrived after warm-up; device figures cover the whole run.
type Result struct {
	Scenario  string         `json:"scenario"`
	Seed      uint64         `json:"seed"`
	DurationS float64        `json:"duration_s"`
	WarmupS   float64        `json:"warmup_s"`
	Events    int64          `json:"events"`
	Models    []ModelResult  `json:"models"`
	Devices   []DeviceResult `json:"devices"`
	Little    LittleCheck    `json:"little"`
	Series    []DeviceSeries `json:"-"`                   // written as CSV (--series)
	Autoscale []ScaleResult  `json:"autoscale,omitempty"` // autoscaled node groups (autoscale.go)
	Partial   bool           `json:"partial,omitempty"`
}

// Latency summarises a latency distribution in seconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

func summarize(s *sketch.Sketch) Latency {
	if s.Count() == 0 {
		return Latency{nan, nan, nan, nan, nan, nan}
	}
	return Latency{Mean: s.Mean(), P50: s.Quantile(0.5), P90: s.Quantile(0.9), P95: s.Quantile(0.95),
		P99: s.Quantile(0.99), Max: s.Max()}
}

// ModelResult is one served model's outcome.
type ModelResult struct {
	Model       string `json:"model"`
	Arrived     int64  `json:"arrived"`
	Completed   int64  `json:"completed"`
	Rejected    int64  `json:"rejected"`
	InFlight    int64  `json:"in_flight"` // arrived but neither completed nor rejected at the end
	Preemptions int64  `json:"preemptions"`

	// Served counts the requests completed after warm-up, those that
	// arrived before it too: a fleet that fell behind serves at its
	// capacity from the start of the window, so Arrived / Served is its
	// overload even in a run stopped early (the planner's guess). Not in
	// the JSON: Completed is what the results report.
	Served int64 `json:"-"`

	RequestsPerS     float64 `json:"requests_per_s"`
	InputTokensPerS  float64 `json:"input_tokens_per_s"`
	OutputTokensPerS float64 `json:"output_tokens_per_s"`
	// GoodputPerS counts completed requests that met every SLO target.
	GoodputPerS float64 `json:"goodput_per_s"`
	// SLOAttainment is the share of completed requests that met the SLO.
	SLOAttainment float64 `json:"slo_attainment"`
	// SLOMet: the percentile of TTFT, TPOT and E2E is within each target and
	// attainment reaches its target.
	SLOMet bool `json:"slo_met"`

	// Energy of the nodes (device and host, after warm-up) shared out by
	// the time each instance kept its device busy.
	EnergyJ               float64 `json:"energy_j"`
	EnergyJPerOutputToken float64 `json:"energy_j_per_output_token"`
	EnergyJPerRequest     float64 `json:"energy_j_per_request"`

	Queue Latency `json:"queue_s"`
	TTFT  Latency `json:"ttft_s"`
	TPOT  Latency `json:"tpot_s"`
	ITL   Latency `json:"itl_s"`
	E2E   Latency `json:"e2e_s"`

	Classes []ClassResult `json:"classes,omitempty"`

	// Disaggregated serving (sim/disagg.go), left out for a co-located
	// model: how many KV transfers started after warm-up, their mean
	// size, and their time from the end of the prefill to the KV's
	// arrival at the decode instance (queueing on the link included).
	KVTransfers     int64    `json:"kv_transfers,omitempty"`
	KVTransferBytes float64  `json:"kv_transfer_bytes,omitempty"`
	KVTransferS     *Latency `json:"kv_transfer_s,omitempty"`

	// PrefixCacheHitRate is the share of prompt tokens the prefix cache
	// served (first admissions after warm-up, sim/prefix.go); left out
	// for a model no instance caches.
	PrefixCacheHitRate *float64 `json:"prefix_cache_hit_rate,omitempty"`
}

// ClassResult is a priority class's outcome.
type ClassResult struct {
	Class         string  `json:"class"`
	Completed     int64   `json:"completed"`
	SLOAttainment float64 `json:"slo_attainment"`
	TTFT          Latency `json:"ttft_s"`
	TPOT          Latency `json:"tpot_s"`
	E2E           Latency `json:"e2e_s"`
}

// DeviceResult is one device's activity over the run.
type DeviceResult struct {
	Node     string `json:"node"`
	Hardware string `json:"hardware"`
	// Devices and NodeType are a node of several devices' (a node type's):
	// then the power and energy figures are all its devices' together,
	// and the others each device's mean (sim/parallel.go). Left out for a
	// node of one device.
	Devices  int    `json:"devices,omitempty"`
	NodeType string `json:"node_type,omitempty"`
	// Utilization is the share of time a step was running, as nvidia-smi
	// reports it (a kernel on the device, however small).
	Utilization float64 `json:"utilization"`
	MFU         float64 `json:"mfu"` // FLOPs / (time × peak of each instance's dtype)
	MBU         float64 `json:"mbu"` // bytes / (time × peak bandwidth)
	KVUseMean   float64 `json:"kv_use_mean"`
	KVUsePeak   float64 `json:"kv_use_peak"`
	RunningMean float64 `json:"running_mean"`
	WaitingMean float64 `json:"waiting_mean"`

	// Power and heat over the whole run. EnergyJ is the device's alone;
	// NodePowerMeanW adds the rest of the node (host_power_w).
	PowerMeanW     float64 `json:"power_mean_w"`
	PowerPeakW     float64 `json:"power_peak_w"`
	EnergyJ        float64 `json:"energy_j"`
	NodePowerMeanW float64 `json:"node_power_mean_w"`
	TempMeanC      float64 `json:"temp_mean_c"`
	TempPeakC      float64 `json:"temp_peak_c"`
	ClockMean      float64 `json:"clock_mean"` // share of full clock
	// ThrottledS is the time below full clock; ThermalS and PowerCapS say
	// what held it down (both may, at once).
	ThrottledS float64 `json:"throttled_s"`
	ThermalS   float64 `json:"thermal_throttled_s"`
	PowerCapS  float64 `json:"power_capped_s"`

	// After warm-up, the span the request figures cover: what cost is
	// computed on.
	WindowS           float64 `json:"window_s"`
	WindowNodeEnergyJ float64 `json:"window_node_energy_j"`
	WindowUtilization float64 `json:"window_utilization"`
	// WindowHeldS is, for a node of an autoscaled group, the part of the
	// window it was held (serving, booting or draining): what renting it
	// costs. Absent for a fixed node, held throughout.
	WindowHeldS *float64      `json:"window_held_s,omitempty"`
	Instances   []InstanceUse `json:"instances"`
}

// InstanceUse is how long an instance kept its device busy after warm-up,
// split between prompt and generated tokens by token count.
type InstanceUse struct {
	Model    string  `json:"model"`
	PrefillS float64 `json:"prefill_s"`
	DecodeS  float64 `json:"decode_s"`
}

// LittleCheck compares L = λW computed two ways over requests that arrived
// after warm-up: the time-average number in the system, against the arrival
// rate times the mean time in the system (requests still in flight count
// until the end). On any run they agree to rounding.
type LittleCheck struct {
	MeanInSystem float64 `json:"mean_in_system"`
	ArrivalRate  float64 `json:"arrival_rate"`
	MeanSojournS float64 `json:"mean_sojourn_s"`
	LambdaW      float64 `json:"lambda_w"`
}

// DeviceSeries is a device's time series, one point per bin.
type DeviceSeries struct {
	Node        string
	BinS        float64
	Utilization []float64
	MFU         []float64
	MBU         []float64
	KVUse       []float64
	Running     []float64
	Waiting     []float64
	PowerW      []float64 // device, mean over the bin
	TempC       []float64 // mean over the bin
	Clock       []float64 // mean share of full clock
	Throttled   []float64 // share of the bin below full clock
}

func (s *simulator) result() *Result {
	now := s.sim.Now()
	for _, d := range s.devs {
		d.advance(now, s.insts)
	}
	s.advanceLittle(now)
	window := (now - s.sc.Warmup).Seconds()
	res := &Result{Scenario: s.sc.Name, Seed: s.sc.Seed, DurationS: now.Seconds(), WarmupS: s.sc.Warmup.Seconds(),
		Events: s.events, Partial: now < s.sc.Duration}
	// Requests still in the system count until now in the sojourn sum.
	sojourn := s.sojourn
	inFlight := make([]int64, len(s.models))
	for _, in := range s.insts {
		s.eachInSystem(in, func(id int32) { s.inFlight(id, now, &sojourn, inFlight) })
	}
	if window > 0 {
		res.Little = LittleCheck{MeanInSystem: s.littleArea / window, ArrivalRate: float64(s.arrivals) / window}
		if s.arrivals > 0 {
			res.Little.MeanSojournS = sojourn / float64(s.arrivals)
		}
		res.Little.LambdaW = res.Little.ArrivalRate * res.Little.MeanSojournS
	}
	for i, m := range s.models {
		mr := m.stats.result(window, inFlight[i])
		m.kv.result(&mr)
		s.prefixResult(m, &mr) // prefix.go
		res.Models = append(res.Models, mr)
	}
	for ni := range s.sc.Nodes {
		res.Devices = append(res.Devices, s.nodeResult(ni))
		res.Series = append(res.Series, s.nodeView(ni, true).series(now))
	}
	s.shareEnergy(res)
	res.Autoscale = s.scaleResults(now)
	return res
}

// shareEnergy gives each model the node energy after warm-up of the
// devices it ran on, in proportion to the time its instances kept each
// device busy; idle time is shared the same way.
func (s *simulator) shareEnergy(res *Result) {
	for ni := range s.sc.Nodes {
		s.shareNodeEnergy(res, ni)
	}
	for i := range res.Models {
		m := &res.Models[i]
		window := res.DurationS - res.WarmupS
		m.EnergyJPerOutputToken, m.EnergyJPerRequest = nan, nan
		if out := m.OutputTokensPerS * window; out > 0 {
			m.EnergyJPerOutputToken = m.EnergyJ / out
		}
		if m.Completed > 0 {
			m.EnergyJPerRequest = m.EnergyJ / float64(m.Completed)
		}
	}
}

// eachInSystem calls f on each request an instance holds, in the order
// the sojourn sum adds them: running, waiting, entering through the front
// end, and KV on its way (disagg.go).
func (s *simulator) eachInSystem(in *instance, f func(id int32)) {
	for _, id := range in.running {
		f(id)
	}
	for _, id := range in.waiting.ids {
		f(id)
	}
	if in.front != nil {
		for _, id := range in.front.queued() {
			f(id)
		}
	}
	for _, id := range in.arriving {
		f(id)
	}
}

func (s *simulator) inFlight(id int32, now engine.Time, sojourn *float64, count []int64) {
	r := &s.reqs[id]
	if r.counted {
		*sojourn += (now - r.arrival).Seconds()
		count[r.model]++
	}
}

func (st *modelStats) result(window float64, inFlight int64) ModelResult {
	r := ModelResult{
		Model: st.spec.Name, Arrived: st.arrived, Completed: st.all.completed, Rejected: st.rejected, Served: st.served,
		InFlight: inFlight, Preemptions: st.preemptions,
		Queue: summarize(st.all.queue), TTFT: summarize(st.all.ttft), TPOT: summarize(st.all.tpot),
		ITL: summarize(st.itl), E2E: summarize(st.all.e2e), SLOAttainment: nan,
	}
	if window > 0 {
		r.RequestsPerS = float64(r.Completed) / window
		r.InputTokensPerS = float64(st.inputTokens) / window
		r.OutputTokensPerS = float64(st.outputTokens) / window
		r.GoodputPerS = float64(st.all.sloMet) / window
	}
	if r.Completed > 0 {
		r.SLOAttainment = float64(st.all.sloMet) / float64(r.Completed)
	}
	q := st.spec.SLO.Percentile / 100
	slo := st.spec.SLO
	r.SLOMet = r.Completed > 0 && r.SLOAttainment >= slo.Attainment &&
		within(st.all.ttft.Quantile(q), slo.TTFTS) && within(st.all.tpot.Quantile(q), slo.TPOTS) &&
		within(st.all.e2e.Quantile(q), slo.E2ES)
	for i, c := range st.classes {
		cr := ClassResult{Class: st.spec.Classes[i].Name, Completed: c.completed, SLOAttainment: nan,
			TTFT: summarize(c.ttft), TPOT: summarize(c.tpot), E2E: summarize(c.e2e)}
		if c.completed > 0 {
			cr.SLOAttainment = float64(c.sloMet) / float64(c.completed)
		}
		r.Classes = append(r.Classes, cr)
	}
	return r
}

// Activity is a device's average activity over a span of time.
type Activity struct {
	Utilization float64 `json:"utilization"` // share of time a step was running
	MFU         float64 `json:"mfu"`
	MBU         float64 `json:"mbu"`
	KVUse       float64 `json:"kv_use"`
	Running     float64 `json:"running"`
	Waiting     float64 `json:"waiting"`
	PowerW      float64 `json:"power_w"`   // device, mean
	TempC       float64 `json:"temp_c"`    // mean
	Clock       float64 `json:"clock"`     // mean share of full clock
	Throttled   float64 `json:"throttled"` // share of the time below full clock
}

// activity averages integrals over the time they cover.
func (d *device) activity(t totals) Activity {
	if t.Seconds <= 0 {
		return Activity{}
	}
	a := Activity{
		Utilization: t.Busy / t.Seconds,
		MFU:         t.PeakFLOPs / t.Seconds,
		MBU:         t.Bytes / t.Seconds / d.bandwidth,
		Running:     t.RunningSec / t.Seconds,
		Waiting:     t.WaitingSec / t.Seconds,
		PowerW:      t.EnergyJ / t.Seconds,
		TempC:       t.TempSec / t.Seconds,
		Clock:       t.ClockSec / t.Seconds,
		Throttled:   t.Throttled / t.Seconds,
	}
	if d.kvCapacity > 0 {
		a.KVUse = t.KVBytesSec / t.Seconds / d.kvCapacity
	}
	return a
}

func (d *device) result(s *simulator, now engine.Time) DeviceResult {
	a := d.activity(d.tot)
	r := DeviceResult{Node: d.node.Name, Hardware: d.node.Hardware.Name, Utilization: a.Utilization, MFU: a.MFU, MBU: a.MBU,
		KVUseMean: a.KVUse, RunningMean: a.Running, WaitingMean: a.Waiting,
		PowerMeanW: a.PowerW, PowerPeakW: d.powerPeak * float64(d.size), EnergyJ: d.tot.EnergyJ, TempMeanC: a.TempC, TempPeakC: d.tempPeak,
		ClockMean: a.Clock, ThrottledS: d.tot.Throttled, ThermalS: d.tot.ThermalSec, PowerCapS: d.tot.CappedSec}
	if d.tot.Seconds > 0 {
		r.NodePowerMeanW = (d.tot.EnergyJ + d.tot.HostJ) / d.tot.Seconds
	}
	if d.kvCapacity > 0 {
		r.KVUsePeak = d.kvPeak / d.kvCapacity
	}
	w := d.tot.sub(d.warm)
	r.WindowS, r.WindowNodeEnergyJ = w.Seconds, w.EnergyJ+w.HostJ
	if w.Seconds > 0 {
		r.WindowUtilization = w.Busy / w.Seconds
	}
	for _, i := range d.insts {
		in := s.insts[i]
		r.Instances = append(r.Instances, InstanceUse{Model: s.models[in.model].spec.Name, PrefillS: in.prefillSec, DecodeS: in.decodeSec})
	}
	return r
}

func (d *device) series(now engine.Time) DeviceSeries {
	n := min(len(d.bins), int((now+d.res-1)/d.res))
	s := DeviceSeries{Node: d.node.Name, BinS: d.res.Seconds()}
	for _, b := range d.bins[:n] {
		a := d.activity(b)
		s.Utilization = append(s.Utilization, a.Utilization)
		s.MFU = append(s.MFU, a.MFU)
		s.MBU = append(s.MBU, a.MBU)
		s.KVUse = append(s.KVUse, a.KVUse)
		s.Running = append(s.Running, a.Running)
		s.Waiting = append(s.Waiting, a.Waiting)
		s.PowerW = append(s.PowerW, a.PowerW)
		s.TempC = append(s.TempC, a.TempC)
		s.Clock = append(s.Clock, a.Clock)
		s.Throttled = append(s.Throttled, a.Throttled)
	}
	return s
}

// Snapshot is the state of a run in progress, for live displays.
type Snapshot struct {
	NowS     float64          `json:"now_s"`
	Progress float64          `json:"progress"` // simulated time done / duration
	Done     bool             `json:"done"`
	Partial  bool             `json:"partial,omitempty"` // done, but stopped before the end
	Events   int64            `json:"events"`
	Models   []ModelSnapshot  `json:"models"`
	Devices  []DeviceSnapshot `json:"devices"`
}

// ModelSnapshot is a served model's state so far (after warm-up).
type ModelSnapshot struct {
	Model     string  `json:"model"`
	Completed int64   `json:"completed"`
	Rejected  int64   `json:"rejected"`
	TTFTP50   float64 `json:"ttft_p50_s"`
	TTFTP95   float64 `json:"ttft_p95_s"`
	TPOTP50   float64 `json:"tpot_p50_s"`
	TPOTP95   float64 `json:"tpot_p95_s"`
	E2EP95    float64 `json:"e2e_p95_s"`
}

// DeviceSnapshot is a device's activity since the previous snapshot, and
// its temperature and clock now.
type DeviceSnapshot struct {
	Node string `json:"node"`
	Activity
	TempNowC float64 `json:"temp_now_c"`
	ClockNow float64 `json:"clock_now"`
	Throttle string  `json:"throttle,omitempty"` // "thermal", "power cap", both, or empty
}

func (s *simulator) snapshot(done bool) Snapshot {
	now := s.sim.Now()
	sn := Snapshot{NowS: now.Seconds(), Progress: float64(now) / float64(s.sc.Duration), Done: done,
		Partial: done && now < s.sc.Duration, Events: s.events}
	for _, m := range s.models {
		a := m.stats.all
		sn.Models = append(sn.Models, ModelSnapshot{Model: m.spec.Name, Completed: a.completed, Rejected: m.stats.rejected,
			TTFTP50: a.ttft.Quantile(0.5), TTFTP95: a.ttft.Quantile(0.95), TPOTP50: a.tpot.Quantile(0.5),
			TPOTP95: a.tpot.Quantile(0.95), E2EP95: a.e2e.Quantile(0.95)})
	}
	for _, d := range s.devs {
		d.advance(now, s.insts)
	}
	for ni := range s.sc.Nodes {
		sn.Devices = append(sn.Devices, s.nodeSnapshot(ni))
	}
	return sn
}
