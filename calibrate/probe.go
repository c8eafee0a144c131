package calibrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// probeServer asks a server at root what it is: its version and, where
// it tells, its KV cache, each engine by its own endpoints. Whatever
// cannot be read is listed in errs rather than failing the run: a record
// with a gap is better than no measurement.
func probeServer(ctx context.Context, engine, root string) (version string, kv *KVInfo, info map[string]any, errs []string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	info = map[string]any{}
	fail := func(err error) { errs = append(errs, err.Error()) }
	switch engine {
	case "vllm":
		if data, err := httpGet(ctx, root+"/version"); err != nil {
			fail(err)
		} else if version, err = parseVersion(data); err != nil {
			fail(fmt.Errorf("%s/version: %w", root, err))
		}
		if data, err := httpGet(ctx, root+"/metrics"); err != nil {
			fail(err)
		} else if kv, err = parseVLLMCacheConfig(string(data)); err != nil {
			fail(fmt.Errorf("%s/metrics: %w", root, err))
		}
	case "sglang":
		// /get_server_info was renamed /server_info in later releases.
		var data []byte
		var err error
		for _, path := range []string{"/get_server_info", "/server_info"} {
			if data, err = httpGet(ctx, root+path); err == nil {
				break
			}
		}
		if err != nil {
			fail(err)
			break
		}
		var si map[string]any
		if version, kv, si, err = parseSGLangServerInfo(data); err != nil {
			fail(fmt.Errorf("%s server info: %w", root, err))
		}
		info["server_info"] = si
	case "llama.cpp":
		data, err := httpGet(ctx, root+"/props")
		if err != nil {
			fail(err)
			break
		}
		var props map[string]any
		if version, kv, props, err = parseLlamaProps(data); err != nil {
			fail(fmt.Errorf("%s/props: %w", root, err))
		}
		info["props"] = props
	case "ollama":
		if data, err := httpGet(ctx, root+"/api/version"); err != nil {
			fail(err)
		} else if version, err = parseVersion(data); err != nil {
			fail(fmt.Errorf("%s/api/version: %w", root, err))
		}
	default: // tensorrt-llm's trtllm-serve, and others
		if data, err := httpGet(ctx, root+"/version"); err != nil {
			fail(err)
		} else if version, err = parseVersion(data); err != nil {
			fail(fmt.Errorf("%s/version: %w", root, err))
		}
	}
	if len(info) == 0 {
		info = nil
	}
	return version, kv, info, errs
}

// httpGet fetches url (at most 16 MiB), failing on a status other than 200.
func httpGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return data, nil
}

// parseVersion reads {"version": "..."} (vLLM /version, Ollama
// /api/version).
func parseVersion(data []byte) (string, error) {
	var v struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return "", err
	}
	if v.Version == "" {
		return "", errors.New(`no "version" field`)
	}
	return v.Version, nil
}

// parseVLLMCacheConfig reads the KV cache vLLM allocated from its
// vllm:cache_config_info gauge, whose labels are the cache config
// (num_gpu_blocks, block_size, ...). With several engines (data
// parallel) each has a sample; their blocks add up.
func parseVLLMCacheConfig(text string) (*KVInfo, error) {
	samples, err := promLabels(text, "vllm:cache_config_info")
	if err != nil {
		return nil, err
	}
	kv := &KVInfo{Source: "vllm:cache_config_info num_gpu_blocks × block_size"}
	for _, l := range samples {
		n, err := strconv.Atoi(l["num_gpu_blocks"])
		if err != nil || n <= 0 {
			continue // "None" before the engine profiled its memory
		}
		kv.Blocks += n
		if bs, err := strconv.Atoi(l["block_size"]); err == nil && bs > 0 {
			kv.BlockTokens = bs
		}
	}
	if kv.Blocks == 0 {
		return nil, fmt.Errorf("no vllm:cache_config_info sample with a num_gpu_blocks (%d samples)", len(samples))
	}
	kv.Tokens = kv.Blocks * kv.BlockTokens
	return kv, nil
}

// parseSGLangServerInfo reads SGLang's /get_server_info: its server
// arguments and scheduler state, with max_total_num_tokens (the token
// pool: SGLang's KV cache) at the top level in older releases and in
// internal_states[0] in newer ones.
func parseSGLangServerInfo(data []byte) (string, *KVInfo, map[string]any, error) {
	var si map[string]any
	if err := json.Unmarshal(data, &si); err != nil {
		return "", nil, nil, err
	}
	version, _ := si["version"].(string)
	get := func(name string) (float64, bool) {
		if v, ok := si[name].(float64); ok {
			return v, true
		}
		if states, ok := si["internal_states"].([]any); ok && len(states) > 0 {
			if st, ok := states[0].(map[string]any); ok {
				v, ok := st[name].(float64)
				return v, ok
			}
		}
		return 0, false
	}
	tokens, ok := get("max_total_num_tokens")
	if !ok || !isCount(tokens) {
		return version, nil, si, errors.New("no max_total_num_tokens")
	}
	kv := &KVInfo{Tokens: int(tokens), Source: "sglang max_total_num_tokens"}
	if ps, ok := get("page_size"); ok && isCount(ps) {
		kv.BlockTokens = int(ps)
		kv.Blocks = kv.Tokens / kv.BlockTokens
	}
	if version == "" {
		return version, kv, si, errors.New(`no "version" field`)
	}
	return version, kv, si, nil
}

// parseLlamaProps reads llama.cpp's /props: build_info (its version),
// total_slots, and each slot's context (default_generation_settings.n_ctx,
// or n_ctx at the top level in some builds). The chat template is large
// and not a setting the twin uses; it is dropped from the record.
func parseLlamaProps(data []byte) (string, *KVInfo, map[string]any, error) {
	var props map[string]any
	if err := json.Unmarshal(data, &props); err != nil {
		return "", nil, nil, err
	}
	delete(props, "chat_template")
	version, _ := props["build_info"].(string)
	slots, _ := props["total_slots"].(float64)
	nctx, ok := props["n_ctx"].(float64)
	if dg, isMap := props["default_generation_settings"].(map[string]any); isMap && !ok {
		nctx, ok = dg["n_ctx"].(float64)
	}
	var kv *KVInfo
	if ok && isCount(nctx) && isCount(slots) {
		kv = &KVInfo{Slots: int(slots), SlotCtx: int(nctx), Tokens: int(slots) * int(nctx), Source: "llama.cpp /props total_slots × n_ctx"}
	}
	switch {
	case version == "":
		return version, kv, props, errors.New("no build_info")
	case kv == nil:
		return version, nil, props, errors.New("no total_slots and n_ctx")
	}
	return version, kv, props, nil
}

// isCount reports whether a JSON number is a whole count an int holds.
func isCount(v float64) bool { return v >= 1 && v <= 1<<40 && v == math.Trunc(v) }

// promLabels returns the labels of every sample of metric name in a
// Prometheus text exposition: `name{k="v",...} value`. Label values may
// hold escaped quotes, backslashes and newlines. Errors name the line.
func promLabels(text, name string) ([]map[string]string, error) {
	var out []map[string]string
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ' && rest[0] != '\t') {
			continue // a longer metric name
		}
		labels := map[string]string{}
		if rest[0] == '{' {
			var err error
			if labels, rest, err = parseLabels(rest[1:]); err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", n+1, name, err)
			}
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("line %d: %s: no value", n+1, name)
		}
		if _, err := strconv.ParseFloat(f[0], 64); err != nil {
			return nil, fmt.Errorf("line %d: %s: value %q is not a number", n+1, name, f[0])
		}
		out = append(out, labels)
	}
	return out, nil
}

// parseLabels reads `k="v",...}` and returns the labels and what follows
// the closing brace.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ")
		if strings.HasPrefix(s, "}") {
			return labels, s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, "", errors.New("a label without '='")
		}
		key := strings.TrimSpace(s[:eq])
		s = s[eq+1:]
		if !strings.HasPrefix(s, `"`) {
			return nil, "", fmt.Errorf("label %s: value not quoted", key)
		}
		var v strings.Builder
		i := 1
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					v.WriteByte('\n')
				default:
					v.WriteByte(s[i])
				}
				continue
			}
			v.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, "", fmt.Errorf("label %s: unterminated value", key)
		}
		labels[key] = v.String()
		s = strings.TrimLeft(s[i+1:], " ")
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		} else if !strings.HasPrefix(s, "}") {
			return nil, "", fmt.Errorf("label %s: expected ',' or '}' after its value", key)
		}
	}
}
