package calibrate

import (
	"strings"
	"testing"
)

// vllmMetrics is an excerpt of vLLM 0.10's /metrics, in the order it
// writes them: the cache config is an info gauge whose labels are the
// settings.
const vllmMetrics = `# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 12345.0
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-8B"} 0.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen3-8B"} 0.0
# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="16",cache_dtype="auto",calculate_kv_scales="False",cpu_offload_gb="0",enable_prefix_caching="True",engine="0",gpu_memory_utilization="0.35",is_attention_free="False",num_cpu_blocks="None",num_gpu_blocks="4735",num_gpu_blocks_override="None",prefix_caching_hash_algo="builtin",sliding_window="None",swap_space="4",swap_space_bytes="4294967296"} 1.0
# HELP vllm:cache_config_info_extra made up: a longer name must not match
vllm:cache_config_info_extra{num_gpu_blocks="1"} 1.0
`

// sglangServerInfo is the start of SGLang 0.4.6's /get_server_info: the
// server arguments, then the scheduler's state.
const sglangServerInfo = `{"model_path":"Qwen/Qwen3-8B","tokenizer_path":"Qwen/Qwen3-8B","tokenizer_mode":"auto","skip_tokenizer_init":false,"load_format":"auto","trust_remote_code":false,"dtype":"bfloat16","kv_cache_dtype":"auto","quantization":null,"context_length":null,"device":"cuda","served_model_name":"Qwen/Qwen3-8B","chat_template":null,"is_embedding":false,"revision":null,"host":"127.0.0.1","port":30000,"mem_fraction_static":0.35,"max_running_requests":16,"max_total_tokens":null,"chunked_prefill_size":8192,"max_prefill_tokens":16384,"schedule_policy":"fcfs","schedule_conservativeness":1.0,"cpu_offload_gb":0,"page_size":1,"tp_size":1,"stream_interval":1,"random_seed":42,"disable_radix_cache":false,"enable_metrics":true,"status":"ready","max_total_num_tokens":131072,"max_req_input_len":40954,"internal_states":[{"attention_backend":"flashinfer","cuda_graph_max_bs":16,"last_gen_throughput":41.7,"max_total_num_tokens":131072}],"version":"0.4.6.post4"}`

// sglangNewServerInfo is a later SGLang's /server_info: the pool's size
// only in internal_states.
const sglangNewServerInfo = `{"model_path":"Qwen/Qwen3-14B","mem_fraction_static":0.45,"page_size":16,"internal_states":[{"attention_backend":"fa3","max_total_num_tokens":98304,"last_gen_throughput":22.1}],"version":"0.5.2"}`

// llamaProps is llama.cpp b5880's /props for llama-server -c 16384 -np 4.
const llamaProps = `{"default_generation_settings":{"id":0,"id_task":-1,"n_ctx":4096,"speculative":false,"is_processing":false,"params":{"n_predict":-1,"seed":4294967295,"temperature":0.800000011920929,"top_k":40,"top_p":0.949999988079071,"samplers":["penalties","dry","top_k","typ_p","top_p","min_p","xtc","temperature"],"stream":true},"prompt":"","next_token":{"has_next_token":true,"has_new_line":false,"n_remain":-1,"n_decoded":0}},"total_slots":4,"model_path":"/models/qwen3-8b-q4_k_m.gguf","modalities":{"vision":false,"audio":false},"chat_template":"{%- if tools %}{{- '<|im_start|>system\\n' }}{%- endif %}","bos_token":"<|endoftext|>","eos_token":"<|im_end|>","build_info":"b5880-5cae7664"}`

func TestParseVLLMCacheConfig(t *testing.T) {
	kv, err := parseVLLMCacheConfig(vllmMetrics)
	if err != nil {
		t.Fatal(err)
	}
	if kv.Blocks != 4735 || kv.BlockTokens != 16 || kv.Tokens != 4735*16 {
		t.Errorf("%+v", kv)
	}
	// Two engines (data parallel): their blocks add up.
	two := vllmMetrics + strings.Replace(strings.Replace(vllmMetrics[strings.Index(vllmMetrics, "vllm:cache_config_info{"):], `engine="0"`, `engine="1"`, 1), `"4735"`, `"4000"`, 1)
	if kv, err := parseVLLMCacheConfig(two); err != nil || kv.Blocks != 8735 {
		t.Errorf("two engines: %+v, %v", kv, err)
	}
	for _, c := range []struct{ text, want string }{
		{strings.Replace(vllmMetrics, `num_gpu_blocks="4735"`, `num_gpu_blocks="None"`, 1), "no vllm:cache_config_info sample with a num_gpu_blocks (1 samples)"},
		{"vllm:num_requests_running 1\n", "(0 samples)"},
		{"# x\nvllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"4735} 1.0\n", "line 2: vllm:cache_config_info: label num_gpu_blocks: unterminated value"},
	} {
		if _, err := parseVLLMCacheConfig(c.text); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

func TestParseSGLangServerInfo(t *testing.T) {
	for _, c := range []struct {
		name, data, version string
		tokens, page        int
	}{
		{"0.4.6", sglangServerInfo, "0.4.6.post4", 131072, 1},
		{"0.5", sglangNewServerInfo, "0.5.2", 98304, 16},
	} {
		v, kv, info, err := parseSGLangServerInfo([]byte(c.data))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if v != c.version || kv.Tokens != c.tokens || kv.BlockTokens != c.page || kv.Blocks != c.tokens/c.page || info["mem_fraction_static"] == nil {
			t.Errorf("%s: %q %+v", c.name, v, kv)
		}
	}
	if _, _, _, err := parseSGLangServerInfo([]byte(`{"version":"0.4.6"}`)); err == nil || err.Error() != "no max_total_num_tokens" {
		t.Errorf("no pool: %v", err)
	}
	if _, _, _, err := parseSGLangServerInfo([]byte(`{"max_total_num_tokens": 2.5, "version": "x"}`)); err == nil {
		t.Error("a fractional token count was taken")
	}
}

func TestParseLlamaProps(t *testing.T) {
	v, kv, props, err := parseLlamaProps([]byte(llamaProps))
	if err != nil {
		t.Fatal(err)
	}
	if v != "b5880-5cae7664" || kv.Slots != 4 || kv.SlotCtx != 4096 || kv.Tokens != 16384 {
		t.Errorf("%q %+v", v, kv)
	}
	if _, ok := props["chat_template"]; ok || props["model_path"] != "/models/qwen3-8b-q4_k_m.gguf" {
		t.Errorf("props kept: %v", props)
	}
	// Some builds put n_ctx at the top level.
	if _, kv, _, err := parseLlamaProps([]byte(`{"n_ctx": 2048, "total_slots": 2, "build_info": "b4000"}`)); err != nil || kv.Tokens != 4096 {
		t.Errorf("top-level n_ctx: %+v, %v", kv, err)
	}
	if _, _, _, err := parseLlamaProps([]byte(`{"build_info": "b4000"}`)); err == nil || err.Error() != "no total_slots and n_ctx" {
		t.Errorf("no slots: %v", err)
	}
}

func TestParseVersion(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{`{"version":"0.10.1.1"}`, "0.10.1.1", ""},
		{`{"version":"0.17.4"}`, "0.17.4", ""},
		{`{}`, "", `no "version" field`},
		{`<html>`, "", "invalid character"},
	} {
		got, err := parseVersion([]byte(c.in))
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("parseVersion(%s) = %q, %v", c.in, got, err)
		}
	}
}

func TestPromLabels(t *testing.T) {
	text := "m 1\nm{a=\"x\\\"y\",b=\"p\\\\q\\nr\" , c=\"\"} 2.5 1700000000\nmm{a=\"no\"} 3\n# m{a=\"comment\"} 4\n"
	got, err := promLabels(text, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0]) != 0 || got[1]["a"] != `x"y` || got[1]["b"] != "p\\q\nr" || got[1]["c"] != "" {
		t.Errorf("%q", got)
	}
	for _, bad := range []string{`m{a="1"}`, `m{a=1} 1`, `m{a="1" b="2"} 1`, `m{a="1"} x`, `m{="1"} 1`} {
		if _, err := promLabels("# c\n"+bad+"\n", "m"); err == nil || !strings.Contains(err.Error(), "line 2: m:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzPromLabels: any text parses or fails with the line, never panics,
// and a parsed label set re-parses to itself.
func FuzzPromLabels(f *testing.F) {
	f.Add(vllmMetrics, "vllm:cache_config_info")
	f.Add("m{a=\"x\\\"\"} 1\n", "m")
	f.Add("m{a=\"\\", "m")
	f.Add("m{", "m")
	f.Fuzz(func(t *testing.T, text, name string) {
		if name == "" || strings.ContainsAny(name, "{} \t\n\"\\=,#") {
			return
		}
		got, err := promLabels(text, name)
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		for _, l := range got {
			var b strings.Builder
			b.WriteString(name + "{")
			for i, k := range sortedKeys(l) {
				if strings.ContainsAny(k, "=,}\"") || strings.TrimSpace(k) != k || k == "" {
					return // keys the writer below cannot quote
				}
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(k + `="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(l[k]) + `"`)
			}
			b.WriteString("} 1\n")
			again, err := promLabels(b.String(), name)
			if err != nil || len(again) != 1 || len(again[0]) != len(l) {
				t.Fatalf("%q re-parsed to %v, %v", b.String(), again, err)
			}
			for k, v := range l {
				if again[0][k] != v {
					t.Fatalf("label %s: %q became %q", k, v, again[0][k])
				}
			}
		}
	})
}
