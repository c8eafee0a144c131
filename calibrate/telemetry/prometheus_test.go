package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// vllmText is the shape of vLLM's /metrics (0.10, two models behind a
// router would add up).
const vllmText = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-8B"} 3.0
vllm:num_requests_running{engine="1",model_name="Qwen/Qwen3-8B"} 2.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen3-8B"} 1.0
vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen3-8B"} 0.4375
vllm:prompt_tokens_total{engine="0",model_name="Qwen/Qwen3-8B"} 123456.0
vllm:e2e_request_latency_seconds_bucket{le="0.3",model_name="a{b}"} 7
`

func TestParsePrometheus(t *testing.T) {
	got, err := ParsePrometheus(strings.NewReader(vllmText), VLLMMetrics)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"vllm:num_requests_running": 5, "vllm:num_requests_waiting": 1, "vllm:kv_cache_usage_perc": 0.4375}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"vllm:num_requests_running{engine=\"0\" 3", "vllm:num_requests_running x", "vllm:num_requests_running"} {
		if _, err := ParsePrometheus(strings.NewReader("# c\n"+bad+"\n"), VLLMMetrics); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestScrape(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, vllmText)
	}))
	defer s.Close()
	v, err := Scrape(context.Background(), s.URL+"/metrics", VLLMMetrics)
	if err != nil || v["vllm:num_requests_running"] != 5 {
		t.Errorf("scrape: %v %v", v, err)
	}
	if _, err := Scrape(context.Background(), s.URL+"/nope", VLLMMetrics); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("404: %v", err)
	}
}

func FuzzParsePrometheus(f *testing.F) {
	f.Add(vllmText)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParsePrometheus(strings.NewReader(s), VLLMMetrics)
	})
}
