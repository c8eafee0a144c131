package randmodel

import (
	"bytes"
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/gguf"
)

func tinyModel(t *testing.T, name string) catalog.Model {
	t.Helper()
	c, err := catalog.Load(filepath.Join("testdata", "tiny.toml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Model(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// written builds and writes a model and reads it back.
func written(t *testing.T, m catalog.Model, opt Options) ([]byte, *gguf.Header) {
	t.Helper()
	f, err := Build(m, opt)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	h, err := gguf.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), h
}

// tensor decodes a tensor's values to float32.
func tensor(t *testing.T, data []byte, h *gguf.Header, name string) ([]float32, []uint64) {
	t.Helper()
	for _, ti := range h.Tensors {
		if ti.Name != name {
			continue
		}
		n := uint64(1)
		for _, d := range ti.Dims {
			n *= d
		}
		b := data[h.DataOffset+int64(ti.Offset):]
		out := make([]float32, n)
		for i := range out {
			switch ti.Type {
			case gguf.F32:
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			case gguf.F16:
				out[i] = fromF16(binary.LittleEndian.Uint16(b[2*i:]))
			case gguf.BF16:
				out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
			case gguf.Q8_0:
				blk := b[i/32*34:]
				out[i] = fromF16(binary.LittleEndian.Uint16(blk)) * float32(int8(blk[2+i%32]))
			}
		}
		return out, ti.Dims
	}
	t.Fatalf("no tensor %s", name)
	return nil, nil
}

func fromF16(h uint16) float32 {
	sign := float32(1)
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, mant := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * float32(math.Ldexp(mant, -24))
	case 0x1f:
		if mant != 0 {
			return float32(math.NaN())
		}
		return sign * float32(math.Inf(1))
	}
	return sign * float32(math.Ldexp(1+mant/1024, exp-15))
}

// TestSuppressionChannel checks the structure that keeps special tokens
// from being sampled, in every weight type: the reserved channel is a
// constant in the embeddings, unread by layers, unwritten by them, and
// weighs the special tokens' logits far down.
func TestSuppressionChannel(t *testing.T) {
	for _, name := range []string{"qwen3-tiny", "qwen3-tiny-moe"} {
		for _, typ := range []gguf.TensorType{gguf.F16, gguf.BF16, gguf.Q8_0} {
			t.Run(name+"/"+typ.String(), func(t *testing.T) {
				m := tinyModel(t, name)
				data, h := written(t, m, Options{Weights: typ, Seed: 1})
				hid := uint64(m.HiddenSize)
				c := hid - 1

				emb, _ := tensor(t, data, h, "token_embd.weight")
				for tok := range uint64(m.VocabSize) {
					if got := emb[tok*hid+c]; !near(got, channelValue) {
						t.Fatalf("embedding of token %d on the channel: %v", tok, got)
					}
				}
				for i := range m.Layers {
					for _, norm := range []string{"attn_norm", "ffn_norm"} {
						w, _ := tensor(t, data, h, blk(i, norm))
						if w[c] != 0 || w[0] != 1 {
							t.Errorf("%s: channel %v, others %v", blk(i, norm), w[c], w[0])
						}
					}
					down := "ffn_down"
					if m.MoE() {
						down = "ffn_down_exps"
					}
					for _, out := range []string{"attn_output", down} {
						w, dims := tensor(t, data, h, blk(i, out))
						rows := uint64(len(w)) / dims[0]
						var nonzero int
						for row := range rows {
							for j := range dims[0] {
								v := w[row*dims[0]+j]
								if row%hid == c && v != 0 {
									t.Fatalf("%s writes the channel: row %d has %v", blk(i, out), row, v)
								}
								if v != 0 {
									nonzero++
								}
							}
						}
						if nonzero < len(w)/2 {
							t.Errorf("%s: only %d of %d weights are random", blk(i, out), nonzero, len(w))
						}
					}
				}
				final, _ := tensor(t, data, h, "output_norm.weight")
				if final[c] != 1 {
					t.Errorf("output_norm drops the channel: %v", final[c])
				}
				out, _ := tensor(t, data, h, "output.weight")
				for tok := range uint64(m.VocabSize) {
					got := out[tok*hid+c]
					special := tok >= firstSpecial && tok < minVocab
					if special && !near(got, suppression) || !special && got != 0 {
						t.Errorf("output weight of token %d on the channel: %v", tok, got)
					}
				}
			})
		}
	}
}

// near allows for the rounding of q8_0's f16 block scale.
func near(got, want float32) bool { return math.Abs(float64(got-want)) <= 1e-3*math.Abs(float64(want)) }

func blk(i int, s string) string { return "blk." + string(rune('0'+i)) + "." + s + ".weight" }

func TestMetadataAndShapes(t *testing.T) {
	m := tinyModel(t, "qwen3-tiny-moe")
	_, h := written(t, m, Options{Weights: gguf.F16, ContextLength: 256})
	want := map[string]any{
		"general.architecture":                      "qwen3moe",
		"qwen3moe.block_count":                      uint32(2),
		"qwen3moe.context_length":                   uint32(256),
		"qwen3moe.embedding_length":                 uint32(64),
		"qwen3moe.attention.head_count_kv":          uint32(2),
		"qwen3moe.attention.key_length":             uint32(16),
		"qwen3moe.expert_count":                     uint32(4),
		"qwen3moe.expert_used_count":                uint32(2),
		"qwen3moe.expert_feed_forward_length":       uint32(32),
		"qwen3moe.attention.layer_norm_rms_epsilon": float32(1e-6),
		"tokenizer.ggml.pre":                        "qwen2",
		"tokenizer.ggml.add_bos_token":              false,
		"tokenizer.ggml.eos_token_id":               uint32(imEnd),
	}
	for k, v := range want {
		if got, ok := h.Get(k); !ok || got != v {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	tokens, _ := h.Get("tokenizer.ggml.tokens")
	toks := tokens.([]string)
	if len(toks) != m.VocabSize || toks[' '] != "Ġ" || toks['a'] != "a" || toks[imEnd] != "<|im_end|>" {
		t.Errorf("tokens: %d, space %q, a %q, im_end %q", len(toks), toks[' '], toks['a'], toks[imEnd])
	}
	seen := map[string]bool{}
	for _, tok := range toks {
		if seen[tok] {
			t.Errorf("token %q twice", tok)
		}
		seen[tok] = true
	}
	// Parameter count of the file equals the catalog's, plus the untied output.
	var params uint64
	for _, ti := range h.Tensors {
		n := uint64(1)
		for _, d := range ti.Dims {
			n *= d
		}
		params += n
	}
	wantParams := uint64(m.Params())
	if m.TieWordEmbeddings {
		wantParams += uint64(m.LMHeadParams())
	}
	if params != wantParams {
		t.Errorf("file holds %d parameters, catalog computes %d", params, wantParams)
	}
}

func TestDeterministic(t *testing.T) {
	m := tinyModel(t, "qwen3-tiny")
	a, _ := written(t, m, Options{Weights: gguf.Q8_0, Seed: 7})
	b, _ := written(t, m, Options{Weights: gguf.Q8_0, Seed: 7})
	c, _ := written(t, m, Options{Weights: gguf.Q8_0, Seed: 8})
	if !bytes.Equal(a, b) {
		t.Error("same seed, different files")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds, same file")
	}
}

func TestBuildErrors(t *testing.T) {
	m := tinyModel(t, "qwen3-tiny")
	small := m
	small.VocabSize = 100
	odd := m
	odd.HiddenSize = 40
	cases := []struct {
		m    catalog.Model
		opt  Options
		want string
	}{
		{small, Options{Weights: gguf.F16}, "vocab_size 100 is below 259"},
		{odd, Options{Weights: gguf.Q8_0}, "q8_0 needs hidden_size divisible by 32"},
		{m, Options{Weights: gguf.F32}, "use f16, bf16 or q8_0"},
	}
	for _, c := range cases {
		if _, err := Build(c.m, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if _, err := TypeFor("nvfp4"); err == nil {
		t.Error("nvfp4 accepted")
	}
}

func TestHalfPrecision(t *testing.T) {
	cases := []struct {
		f    float32
		f16  uint16
		bf16 uint16
	}{
		{0, 0, 0},
		{1, 0x3c00, 0x3f80},
		{-2, 0xc000, 0xc000},
		{65504, 0x7bff, 0x4780},
		{1e6, 0x7c00, 0x4974},
		{5.960464477539063e-08, 0x0001, 0x3380}, // smallest f16 subnormal
		{0.1, 0x2e66, 0x3dcd},
		{float32(math.Inf(-1)), 0xfc00, 0xff80},
	}
	for _, c := range cases {
		if got := F16(c.f); got != c.f16 {
			t.Errorf("F16(%v) = %#04x, want %#04x", c.f, got, c.f16)
		}
		if got := BF16(c.f); got != c.bf16 {
			t.Errorf("BF16(%v) = %#04x, want %#04x", c.f, got, c.bf16)
		}
	}
	// Round trip of every finite f16 value.
	for h := range uint16(0x7c00) {
		if got := F16(fromF16(h)); got != h {
			t.Fatalf("F16(fromF16(%#04x)) = %#04x", h, got)
		}
	}
}
