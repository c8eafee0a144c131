package workload

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/engine"
)

func rng() *rand.Rand { return rand.New(rand.NewPCG(42, 7)) }

// meanStd returns the sample mean and standard deviation.
func meanStd(xs []float64) (float64, float64) {
	var m, s float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return m, math.Sqrt(s / float64(len(xs)-1))
}

// gaps draws n inter-arrival times in seconds.
func gaps(t *testing.T, a Arrival, n int) []float64 {
	t.Helper()
	p, err := NewArrivalProcess(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rng()
	out := make([]float64, n)
	var now engine.Time
	for i := range out {
		next, ok := p.Next(r, now)
		if !ok || next < now {
			t.Fatalf("Next(%v) = %v, %v", now, next, ok)
		}
		out[i] = (next - now).Seconds()
		now = next
	}
	return out
}

func TestPoissonAndGamma(t *testing.T) {
	const n = 200_000
	for _, tc := range []struct {
		a      Arrival
		wantCV float64
	}{
		{Arrival{Process: "poisson", Rate: 4}, 1},
		{Arrival{Process: "gamma", Rate: 4, CV: 2}, 2},
		{Arrival{Process: "gamma", Rate: 4, CV: 0.5}, 0.5},
	} {
		m, sd := meanStd(gaps(t, tc.a, n))
		want := 1 / tc.a.Rate
		// The mean's standard error is cv/rate/sqrt(n); allow 5 of them.
		if se := tc.wantCV * want / math.Sqrt(n); math.Abs(m-want) > 5*se {
			t.Errorf("%+v: mean gap %v, want %v ± %v", tc.a, m, want, 5*se)
		}
		if cv := sd / m; math.Abs(cv-tc.wantCV) > 0.03*tc.wantCV {
			t.Errorf("%+v: CV %v, want %v", tc.a, cv, tc.wantCV)
		}
	}
}

func TestDiurnal(t *testing.T) {
	d := make([]float64, 24)
	for h := range d {
		d[h] = 0.5 + float64(h%6)/2 // 0.5 .. 3
	}
	p, err := NewArrivalProcess(Arrival{Process: "poisson", Rate: 2, Diurnal: d}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rng()
	counts := make([]float64, 24)
	var now engine.Time
	for {
		next, _ := p.Next(r, now)
		if next >= 24*engine.Hour {
			break
		}
		counts[int(next/engine.Hour)]++
		now = next
	}
	for h, c := range counts {
		want := 2 * d[h] * 3600
		if math.Abs(c-want) > 5*math.Sqrt(want) {
			t.Errorf("hour %d: %v arrivals, want %v ± %v", h, c, want, 5*math.Sqrt(want))
		}
	}
	// All-ones multipliers are plain Poisson at the base rate.
	ones := make([]float64, 24)
	for i := range ones {
		ones[i] = 1
	}
	m, _ := meanStd(gaps(t, Arrival{Process: "poisson", Rate: 3, Diurnal: ones}, 100_000))
	if math.Abs(m-1.0/3) > 5*(1.0/3)/math.Sqrt(100_000) {
		t.Errorf("flat diurnal profile: mean gap %v, want 1/3", m)
	}
}

func TestLengths(t *testing.T) {
	const n = 200_000
	sample := func(l Lengths, emp []WeightedValue) []float64 {
		s, err := NewLengthSampler(l, emp)
		if err != nil {
			t.Fatal(err)
		}
		r := rng()
		out := make([]float64, n)
		for i := range out {
			out[i] = float64(s.Sample(r))
		}
		return out
	}
	check := func(name string, xs []float64, wantMean, wantSD, lo, hi float64) {
		t.Helper()
		m, sd := meanStd(xs)
		if wantSD < 0 { // bounds only
			wantMean, wantSD = m, 0
		}
		if se := math.Max(wantSD, 1e-9) / math.Sqrt(n); math.Abs(m-wantMean) > 5*se+0.5 {
			t.Errorf("%s: mean %v, want %v", name, m, wantMean)
		}
		if wantSD > 0 && math.Abs(sd-wantSD) > 0.03*wantSD {
			t.Errorf("%s: stddev %v, want %v", name, sd, wantSD)
		}
		for _, x := range xs {
			if x < lo || x > hi || x != math.Trunc(x) {
				t.Fatalf("%s: sample %v outside [%v, %v] or not whole", name, x, lo, hi)
			}
		}
	}
	check("fixed", sample(Lengths{Dist: "fixed", Value: 77}, nil), 77, 0, 77, 77)
	// Uniform on {100..300}: variance ((b-a+1)²-1)/12.
	check("uniform", sample(Lengths{Dist: "uniform", Min: 100, Max: 300}, nil), 200, math.Sqrt((201*201-1)/12.0), 100, 300)
	check("lognormal", sample(Lengths{Dist: "lognormal", Mean: 1000, Stddev: 300}, nil), 1000, 300, 1, math.Inf(1))
	// Geometric with mean 50: variance (1-p)/p².
	check("exponential", sample(Lengths{Dist: "exponential", Mean: 50}, nil), 50, math.Sqrt(0.98/0.0004), 1, math.Inf(1))
	check("clamped", sample(Lengths{Dist: "lognormal", Mean: 1000, Stddev: 900, Min: 500, Max: 1200}, nil), 0, -1, 500, 1200)
	emp := sample(Lengths{Dist: "empirical", File: "x"}, []WeightedValue{{10, 1}, {20, 3}})
	n20 := 0
	for _, x := range emp {
		if x == 20 {
			n20++
		}
	}
	if p := float64(n20) / n; math.Abs(p-0.75) > 5*math.Sqrt(0.75*0.25/n) {
		t.Errorf("empirical: share of 20 = %v, want 0.75", p)
	}
}

func TestClassPicker(t *testing.T) {
	p, err := NewClassPicker([]Class{{"a", 0, 0.2}, {"b", 1, 0.5}, {"c", 2, 0.3}})
	if err != nil {
		t.Fatal(err)
	}
	r := rng()
	const n = 100_000
	counts := make([]float64, 3)
	for range n {
		counts[p.Pick(r)]++
	}
	for i, want := range []float64{0.2, 0.5, 0.3} {
		if got := counts[i] / n; math.Abs(got-want) > 5*math.Sqrt(want*(1-want)/n) {
			t.Errorf("class %d: share %v, want %v", i, got, want)
		}
	}
	if _, err := NewClassPicker([]Class{{"a", 0, 0.5}, {"b", 0, 0.4}}); err == nil {
		t.Error("shares summing to 0.9 accepted")
	}
	one, _ := NewClassPicker(nil)
	r2 := rng()
	for range 10 {
		if one.Pick(r2) != 0 {
			t.Fatal("the default class is index 0")
		}
	}
	if r2.Uint64() != rng().Uint64() {
		t.Error("a single class must not draw from the stream")
	}
}

func TestValidate(t *testing.T) {
	ok := Spec{Arrival: Arrival{Process: "poisson", Rate: 1}, Input: Lengths{Dist: "fixed", Value: 10}, Output: Lengths{Dist: "fixed", Value: 10}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(*Spec)
		want   string
	}{
		{"rate", func(s *Spec) { s.Arrival.Rate = -1 }, "arrival.rate: must be positive"},
		{"process", func(s *Spec) { s.Arrival.Process = "burst" }, `arrival.process: unknown process "burst"`},
		{"cv", func(s *Spec) { s.Arrival.Process = "gamma" }, "arrival.cv"},
		{"diurnal", func(s *Spec) { s.Arrival.Diurnal = []float64{1, 2} }, "arrival.diurnal: want 24"},
		{"closed", func(s *Spec) { s.Arrival.Process = "closed" }, "arrival.concurrency"},
		{"trace", func(s *Spec) { s.Arrival.Process = "trace" }, "arrival.trace: required"},
		{"dist", func(s *Spec) { s.Input.Dist = "pareto" }, `input.dist: unknown distribution "pareto"`},
		{"max", func(s *Spec) { s.Output = Lengths{Dist: "uniform", Min: 10, Max: 5} }, "output.max"},
		{"lognormal", func(s *Spec) { s.Output = Lengths{Dist: "lognormal", Mean: 10} }, "output.mean: lognormal needs"},
		{"shares", func(s *Spec) { s.Classes = []Class{{"a", 0, 0.5}} }, "classes: shares must sum to 1"},
		{"class name", func(s *Spec) { s.Classes = []Class{{"", 0, 1}} }, "classes.0.name"},
	}
	for _, tt := range tests {
		s := ok
		tt.mutate(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestReadTrace(t *testing.T) {
	csv := "arrival_s,input_tokens,output_tokens,class\n0,10,5,a\n1.5,20,6,b\n1.5,30,7,a\n"
	jsonl := `{"arrival_s":0,"input_tokens":10,"output_tokens":5,"class":"a"}
{"arrival_s":1.5,"input_tokens":20,"output_tokens":6,"class":"b"}

{"arrival_s":1.5,"input_tokens":30,"output_tokens":7,"class":"a"}
`
	for name, src := range map[string]string{"t.csv": csv, "t.jsonl": jsonl} {
		recs, err := ReadTrace(name, strings.NewReader(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(recs) != 3 || !reflect.DeepEqual(recs[1], TraceRecord{ArrivalS: 1.5, InputTokens: 20, OutputTokens: 6, Class: "b"}) {
			t.Errorf("%s: %+v", name, recs)
		}
	}
	bad := []struct{ src, want string }{
		{"arrival_s,input_tokens\n1,2\n", "t:1: want columns"},
		{"arrival_s,input_tokens,output_tokens\n1,2,x\n", "t:2: output_tokens: want an integer >= 1"},
		{"arrival_s,input_tokens,output_tokens\n5,2,3\n4,2,3\n", "t:3: arrival_s 4 is before"},
		{"arrival_s,input_tokens,output_tokens\n-1,2,3\n", "t:2: arrival_s"},
		{`{"arrival_s":1,"input_tokens":0,"output_tokens":1}`, "t:1: input_tokens"},
		{`{"arrival_s":1,"input":1}`, "t:1:"},
		{"", "t: empty trace"},
		// Issue 11: lengths of 2³² wrapped the simulator's 32-bit counters.
		{"arrival_s,input_tokens,output_tokens\n1,4294967300,3\n", "t:2: input_tokens: at most 1048576 tokens, got 4294967300"},
		{`{"arrival_s":1,"input_tokens":1,"output_tokens":4294967296}`, "t:1: input_tokens, output_tokens: at most 1048576 tokens"},
		{"arrival_s,input_tokens,output_tokens\ninf,2,3\n", "t:2: arrival_s"},
	}
	for _, b := range bad {
		if _, err := ReadTrace("t", strings.NewReader(b.src)); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: error %v, want %q", b.src, err, b.want)
		}
	}
}

func TestReadEmpirical(t *testing.T) {
	v, err := ReadEmpirical("e", strings.NewReader("# lengths\n100\n\n200, 3 # common\n"))
	if err != nil || len(v) != 2 || v[1] != (WeightedValue{200, 3}) || v[0].Weight != 1 {
		t.Fatalf("%+v, %v", v, err)
	}
	for src, want := range map[string]string{"4294967300\n": "e:1: value: want a number >= 1 and <= 1048576", "x\n": "e:1: value", "5,0\n": "e:1: weight", "\n# none\n": "e: no values", "1\n0.5\n": "e:2: value"} {
		if _, err := ReadEmpirical("e", strings.NewReader(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a := gaps(t, Arrival{Process: "gamma", Rate: 3, CV: 3}, 1000)
	b := gaps(t, Arrival{Process: "gamma", Rate: 3, CV: 3}, 1000)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs: %v vs %v", i, a[i], b[i])
		}
	}
}

func FuzzReadTrace(f *testing.F) {
	f.Add([]byte("arrival_s,input_tokens,output_tokens\n0,1,1\n"))
	f.Add([]byte(`{"arrival_s":0,"input_tokens":1,"output_tokens":1}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		recs, err := ReadTrace("f", strings.NewReader(string(src)))
		if err != nil {
			return
		}
		for i, r := range recs {
			if r.InputTokens < 1 || r.OutputTokens < 1 || !(r.ArrivalS >= 0) || i > 0 && r.ArrivalS < recs[i-1].ArrivalS {
				t.Fatalf("accepted bad record %d: %+v", i, r)
			}
		}
	})
}

func FuzzReadEmpirical(f *testing.F) {
	f.Add([]byte("1\n2,3\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		v, err := ReadEmpirical("f", strings.NewReader(string(src)))
		if err != nil {
			return
		}
		s, err := NewLengthSampler(Lengths{Dist: "empirical", File: "f"}, v)
		if err != nil {
			t.Fatal(err)
		}
		if x := s.Sample(rng()); x < 1 {
			t.Fatalf("sampled %d", x)
		}
	})
}
