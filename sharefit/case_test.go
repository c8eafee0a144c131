package sharefit

import (
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/measure"
)

func TestReadDedicatedErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"missing id", "[[cases]]\ntpot_p50_ms = 1\nttft_p50_ms = 1\noutput_tps = 1\nrequest_rps = 1\ngpu_mem_util = 0.5\n", []string{"d.toml:1", "cases[0].id", "missing"}},
		{"negative", "[[cases]]\nid = \"x\"\ntpot_p50_ms = -1\nttft_p50_ms = 1\noutput_tps = 1\nrequest_rps = 1\ngpu_mem_util = 0.5\n", []string{"d.toml:3", "cases[0].tpot_p50_ms", "positive"}},
		{"memory", "[[cases]]\nid = \"x\"\ntpot_p50_ms = 1\nttft_p50_ms = 1\noutput_tps = 1\nrequest_rps = 1\ngpu_mem_util = 2\n", []string{"d.toml:7", "gpu_mem_util", "(0, 1]"}},
		{"unknown key", "[[cases]]\nid = \"x\"\nspeed = 3\n", []string{"speed"}},
		{"malformed", "[[cases]\n", []string{"d.toml:2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadDedicated("d.toml", []byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestReadDedicatedOutputLength(t *testing.T) {
	d, err := ReadDedicated("d.toml", []byte("[[cases]]\nid = \"x\"\ntpot_p50_ms = 52.3\nttft_p50_ms = 497.5\noutput_tps = 1557.1\nrequest_rps = 6.17\ngpu_mem_util = 0.8\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := d[0].OutputTokens; got != 252 {
		t.Errorf("output tokens = %d, want 252 (1557.1 / 6.17)", got)
	}
}

const header = "id,hardware,engine,model,quant,kv_cache,tp,kind,concurrency,requests,rate_rps,input_tokens,output_tokens,depth_tokens,length_cv,settings,metric,value,unit,source,notes\n"

func rows(t *testing.T, csv string) []measure.Row {
	t.Helper()
	r, err := measure.Read("c.csv", strings.NewReader(header+csv))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCases(t *testing.T) {
	rs := rows(t, "c1-tpot,a100-80gb,vllm,qwen3-4b,fp8,,,colocated-ratio,,,,,,,,sharing=mps;instances=2;mps_sm_percent=60;gpu_mem_util=0.5,tpot_p50_ratio_colocated,1.2,ratio,src,\n"+
		"c1-ttft,a100-80gb,vllm,qwen3-4b,fp8,,,colocated-ratio,,,,,,,,sharing=mps;instances=2;mps_sm_percent=60;gpu_mem_util=0.5,ttft_p50_ratio_colocated,1.01,ratio,src,\n"+
		"other,a100-80gb,vllm,qwen3-4b,fp8,,,closed-loop,4,100,,128,128,,,,tpot_ms_mean,20,ms,src,\n")
	cs, err := Cases(rs, []Dedicated{{ID: "c1", GPUMemUtil: 0.8}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 {
		t.Fatalf("got %d cases, want 1", len(cs))
	}
	c := cs[0]
	if c.ID != "c1" || c.Instances != 2 || c.SMPercent != 60 || c.MemFraction != 0.5 || c.Sharing != "mps" || len(c.Ratios) != 2 {
		t.Errorf("case %+v", c)
	}
	if _, err := Cases(rs, nil); err == nil || !strings.Contains(err.Error(), `no dedicated figures with id "c1"`) {
		t.Errorf("without dedicated figures: %v", err)
	}
	bad := rows(t, "b-tpot,a100-80gb,vllm,qwen3-4b,fp8,,,colocated-ratio,,,,,,,,sharing=mps;instances=2;colour=red,tpot_p50_ratio_colocated,1.2,ratio,src,\n")
	if _, err := Cases(bad, nil); err == nil || !strings.Contains(err.Error(), `row b-tpot: settings: unknown key "colour"`) {
		t.Errorf("unknown setting: %v", err)
	}
}

func FuzzReadDedicated(f *testing.F) {
	f.Add([]byte("[[cases]]\nid = \"x\"\ntpot_p50_ms = 52.3\nttft_p50_ms = 497.5\noutput_tps = 1557.1\nrequest_rps = 6.17\ngpu_mem_util = 0.8\n"))
	f.Add([]byte("[[cases]]\nrequest_rps = 1e308\noutput_tps = 1e308\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ReadDedicated("f.toml", b)
		if err != nil {
			return
		}
		for _, c := range d {
			if c.ID == "" || !(c.RequestRPS > 0) || !(c.GPUMemUtil > 0 && c.GPUMemUtil <= 1) {
				t.Fatalf("accepted an invalid case %+v", c)
			}
		}
	})
}
