package telemetry

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ServerMetrics are the serving engine's own gauges, scraped from its
// Prometheus endpoint (vLLM's /metrics).
type ServerMetrics struct {
	T     time.Time `json:"t"`
	Model string    `json:"model"`
	// Values by metric name, summed over label sets (several models or
	// engines behind one endpoint add up).
	Values map[string]float64 `json:"values"`
}

// VLLMMetrics are the gauges worth keeping from vLLM: running and waiting
// requests and KV-cache use (named gpu_cache_usage_perc before vLLM 0.10,
// kv_cache_usage_perc after), and the preemption counter.
var VLLMMetrics = []string{
	"vllm:num_requests_running",
	"vllm:num_requests_waiting",
	"vllm:gpu_cache_usage_perc",
	"vllm:kv_cache_usage_perc",
	"vllm:num_preemptions_total",
	"sglang:num_running_reqs",
	"sglang:num_queue_reqs",
	"sglang:token_usage",
}

// ParsePrometheus reads the Prometheus text exposition format and returns
// the samples of the wanted metrics, summed over their label sets.
// Malformed lines are errors naming the line; metrics not wanted are
// skipped unparsed.
func ParsePrometheus(r io.Reader, want []string) (map[string]float64, error) {
	keep := map[string]bool{}
	for _, w := range want {
		keep[w] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		name, rest := text, ""
		if i := strings.IndexAny(text, "{ "); i >= 0 {
			name, rest = text[:i], text[i:]
		}
		if !keep[name] {
			continue
		}
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndex(rest, "}")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated labels", line)
			}
			rest = rest[end+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("line %d: %s has no value", line, name)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", line, name, err)
		}
		if !math.IsNaN(v) {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// Scrape fetches and parses one endpoint.
func Scrape(ctx context.Context, url string, want []string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: HTTP %d", url, resp.StatusCode)
	}
	vals, err := ParsePrometheus(resp.Body, want)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return vals, nil
}
