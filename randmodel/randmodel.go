// Package randmodel builds Qwen3-architecture GGUF models with random
// weights. Inference speed does not depend on the values of the weights, so
// a random model of the right shape measures an engine as well as the real
// one, and it can be made where no weights can be downloaded.
//
// Random weights would emit an end-of-sequence token at random, and Ollama
// has no option to ignore it. The weights are therefore chosen so that the
// special tokens can never be sampled: one residual channel (the last) is
// a constant in every token embedding, no layer reads it (the norms weight
// it zero) or writes it (the output projections' row for it is zero), and
// the output projection gives the special tokens a large negative weight on
// it. Every request then runs to its max_tokens.
package randmodel

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/gguf"
)

// Special tokens, as Qwen3 names them. They follow the 256 byte tokens.
var specials = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}

const (
	firstSpecial = 256
	endOfText    = firstSpecial
	imEnd        = firstSpecial + 2
	// minVocab is the byte tokens and the specials.
	minVocab = firstSpecial + 3
)

// Token types, as llama.cpp numbers them.
const (
	tokenNormal  = 1
	tokenControl = 3
	tokenByte    = 6
)

// Options choose the weight format and the random stream.
type Options struct {
	// Weights is the type of the projection and embedding matrices:
	// gguf.F16, gguf.BF16 or gguf.Q8_0. Norms are always F32.
	Weights gguf.TensorType
	// Seed picks the values; the same model, options and seed give a
	// byte-identical file.
	Seed uint64
	// ContextLength overrides the model's max positions when positive.
	ContextLength int
}

// TypeFor maps a catalog weight format to the GGUF type written for it.
func TypeFor(format string) (gguf.TensorType, error) {
	switch strings.ToLower(format) {
	case "fp16", "f16":
		return gguf.F16, nil
	case "bf16":
		return gguf.BF16, nil
	case "q8_0":
		return gguf.Q8_0, nil
	}
	return 0, fmt.Errorf("weight format %q: random models are written as fp16, bf16 or q8_0", format)
}

// Build describes the GGUF file of a random-weight model with m's shape.
// Tensor data is generated when the file is written.
func Build(m catalog.Model, opt Options) (*gguf.File, error) {
	if err := check(m, opt); err != nil {
		return nil, err
	}
	arch := "qwen3"
	if m.MoE() {
		arch = "qwen3moe"
	}
	ctx := m.MaxPositionEmbeddings
	if opt.ContextLength > 0 {
		ctx = opt.ContextLength
	}
	k := func(s string) string { return arch + "." + s }
	f := &gguf.File{Metadata: []gguf.KV{
		{Key: "general.architecture", Value: arch},
		{Key: "general.name", Value: "fleettwin random " + m.Name},
		{Key: "general.description", Value: fmt.Sprintf("random weights (seed %d) with the shape of %s, made by fleettwin", opt.Seed, m.Name)},
		{Key: "general.alignment", Value: uint32(gguf.Alignment)},
		{Key: k("block_count"), Value: uint32(m.Layers)},
		{Key: k("context_length"), Value: uint32(ctx)},
		{Key: k("embedding_length"), Value: uint32(m.HiddenSize)},
		{Key: k("feed_forward_length"), Value: uint32(m.IntermediateSize)},
		{Key: k("attention.head_count"), Value: uint32(m.AttentionHeads)},
		{Key: k("attention.head_count_kv"), Value: uint32(m.KVHeads)},
		{Key: k("attention.key_length"), Value: uint32(m.HeadDim)},
		{Key: k("attention.value_length"), Value: uint32(m.HeadDim)},
		{Key: k("attention.layer_norm_rms_epsilon"), Value: float32(m.RMSNormEps)},
		{Key: k("rope.freq_base"), Value: float32(m.RopeTheta)},
	}}
	if m.MoE() {
		f.Metadata = append(f.Metadata,
			gguf.KV{Key: k("expert_count"), Value: uint32(m.Experts)},
			gguf.KV{Key: k("expert_used_count"), Value: uint32(m.ExpertsPerToken)},
			gguf.KV{Key: k("expert_feed_forward_length"), Value: uint32(m.ExpertIntermediate)},
		)
	}
	tokens, types := vocabulary(m.VocabSize)
	f.Metadata = append(f.Metadata,
		gguf.KV{Key: "tokenizer.ggml.model", Value: "gpt2"},
		gguf.KV{Key: "tokenizer.ggml.pre", Value: "qwen2"},
		gguf.KV{Key: "tokenizer.ggml.tokens", Value: tokens},
		gguf.KV{Key: "tokenizer.ggml.token_type", Value: types},
		// No merges: every byte of a prompt is one token, so prompt
		// lengths are easy to hit. llama.cpp requires the key.
		gguf.KV{Key: "tokenizer.ggml.merges", Value: []string{}},
		gguf.KV{Key: "tokenizer.ggml.bos_token_id", Value: uint32(endOfText)},
		gguf.KV{Key: "tokenizer.ggml.eos_token_id", Value: uint32(imEnd)},
		gguf.KV{Key: "tokenizer.ggml.eos_token_ids", Value: []int32{endOfText, imEnd}},
		gguf.KV{Key: "tokenizer.ggml.padding_token_id", Value: uint32(endOfText)},
		gguf.KV{Key: "tokenizer.ggml.add_bos_token", Value: false},
		gguf.KV{Key: "tokenizer.chat_template", Value: ChatTemplate},
	)

	g := gen{m: m, w: opt.Weights, seed: opt.Seed, c: uint64(m.HiddenSize - 1)}
	h, q, kv := uint64(m.HiddenSize), uint64(m.AttentionHeads*m.HeadDim), uint64(m.KVHeads*m.HeadDim)
	v := uint64(m.VocabSize)
	add := func(t gguf.Tensor) { f.Tensors = append(f.Tensors, t) }
	add(g.embedding("token_embd.weight", h, v))
	for i := range m.Layers {
		b := func(s string) string { return fmt.Sprintf("blk.%d.%s", i, s) }
		add(g.norm(b("attn_norm.weight"), h, 0))
		add(g.linear(b("attn_q.weight"), h, q))
		add(g.linear(b("attn_k.weight"), h, kv))
		add(g.linear(b("attn_v.weight"), h, kv))
		add(g.norm(b("attn_q_norm.weight"), uint64(m.HeadDim), 1))
		add(g.norm(b("attn_k_norm.weight"), uint64(m.HeadDim), 1))
		add(g.intoResidual(b("attn_output.weight"), q, h, 1))
		add(g.norm(b("ffn_norm.weight"), h, 0))
		if m.MoE() {
			e, ff := uint64(m.Experts), uint64(m.ExpertIntermediate)
			add(gguf.Tensor{Name: b("ffn_gate_inp.weight"), Dims: []uint64{h, e}, Type: gguf.F32, Fill: g.f32Random(b("ffn_gate_inp.weight"), h*e)})
			add(g.linear3(b("ffn_gate_exps.weight"), h, ff, e))
			add(g.linear3(b("ffn_up_exps.weight"), h, ff, e))
			add(g.intoResidual(b("ffn_down_exps.weight"), ff, h, e))
		} else {
			ff := uint64(m.IntermediateSize)
			add(g.linear(b("ffn_gate.weight"), h, ff))
			add(g.linear(b("ffn_up.weight"), h, ff))
			add(g.intoResidual(b("ffn_down.weight"), ff, h, 1))
		}
	}
	add(g.norm("output_norm.weight", h, 1))
	// The output projection is always written, even for models with tied
	// embeddings: the special tokens' suppression lives in it.
	add(g.output("output.weight", h, v))
	return f, nil
}

// ChatTemplate is Qwen's ChatML, without tools or thinking.
const ChatTemplate = `{% for message in messages %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}`

// OllamaTemplate is ChatTemplate in Ollama's Go template syntax, for
// /api/create.
const OllamaTemplate = `{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
`

func check(m catalog.Model, opt Options) error {
	switch {
	case m.Layers <= 0 || m.HiddenSize < 2 || m.AttentionHeads <= 0 || m.KVHeads <= 0 || m.HeadDim <= 0:
		return fmt.Errorf("model %s: incomplete shape", m.Name)
	case m.VocabSize < minVocab:
		return fmt.Errorf("model %s: vocab_size %d is below %d (256 byte tokens and 3 special tokens)", m.Name, m.VocabSize, minVocab)
	case !m.MoE() && m.IntermediateSize <= 0:
		return fmt.Errorf("model %s: intermediate_size must be positive", m.Name)
	case m.MoE() && (m.ExpertIntermediate <= 0 || m.ExpertsPerToken <= 0):
		return fmt.Errorf("model %s: a MoE model needs expert_intermediate_size and experts_per_token", m.Name)
	case m.QKVBias:
		return fmt.Errorf("model %s: qkv_bias is not part of the Qwen3 architecture", m.Name)
	}
	if opt.Weights == gguf.Q8_0 && m.HiddenSize%32 != 0 {
		return fmt.Errorf("model %s: q8_0 needs hidden_size divisible by 32, got %d", m.Name, m.HiddenSize)
	}
	switch opt.Weights {
	case gguf.F16, gguf.BF16, gguf.Q8_0:
	default:
		return fmt.Errorf("weights type %v: use f16, bf16 or q8_0", opt.Weights)
	}
	return nil
}

// vocabulary is the GPT-2 byte-level alphabet, the specials, and padding
// tokens up to n. Padding tokens are normal tokens that no text encodes
// to (there are no merges); the model may still generate them.
func vocabulary(n int) ([]string, []int32) {
	tokens := make([]string, n)
	types := make([]int32, n)
	for b, r := range byteAlphabet() {
		tokens[b] = string(r)
		types[b] = tokenNormal
	}
	for i, s := range specials {
		tokens[firstSpecial+i] = s
		types[firstSpecial+i] = tokenControl
	}
	for i := minVocab; i < n; i++ {
		tokens[i] = fmt.Sprintf("[PAD%d]", i)
		types[i] = tokenNormal
	}
	return tokens, types
}

// byteAlphabet is GPT-2's bytes_to_unicode: printable bytes map to
// themselves, the rest to code points from 256 up, in byte order.
func byteAlphabet() [256]rune {
	var out [256]rune
	next := rune(256)
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			out[b] = rune(b)
		} else {
			out[b] = next
			next++
		}
	}
	return out
}

// Scale of the random values: standard deviation of a uniform weight.
const (
	weightStd = 0.02
	// channelValue is the constant embedding entry on the reserved
	// channel, and suppression the special tokens' output weight on it:
	// after the final norm the channel is about sqrt(hidden), so their
	// logits sit thousands below every other token's.
	channelValue = 1.0
	suppression  = -64.0
)

// gen fills tensors. Every tensor has its own stream, seeded from the
// model seed and its name, so files are reproducible.
type gen struct {
	m    catalog.Model
	w    gguf.TensorType
	seed uint64
	c    uint64 // reserved residual channel
}

func (g gen) rng(name string) *rand.Rand {
	h := fnv.New64a()
	io.WriteString(h, name)
	return rand.New(rand.NewPCG(g.seed, h.Sum64()))
}

// linear is a projection reading the residual stream (dims {in, out}).
// The reserved channel is zero after the norm, so its column needs no care.
func (g gen) linear(name string, in, out uint64) gguf.Tensor {
	return g.matrix(name, []uint64{in, out}, nil)
}

func (g gen) linear3(name string, in, out, experts uint64) gguf.Tensor {
	return g.matrix(name, []uint64{in, out, experts}, nil)
}

// intoResidual is a projection writing the residual stream (dims {in, h,
// experts}): the reserved channel's row is zero.
func (g gen) intoResidual(name string, in, h, experts uint64) gguf.Tensor {
	dims := []uint64{in, h}
	if experts > 1 {
		dims = append(dims, experts)
	}
	return g.matrix(name, dims, func(row uint64, vals []float32) {
		if row%h == g.c {
			clear(vals)
		}
	})
}

// embedding rows hold the constant on the reserved channel.
func (g gen) embedding(name string, h, vocab uint64) gguf.Tensor {
	return g.matrix(name, []uint64{h, vocab}, func(_ uint64, vals []float32) {
		vals[g.c] = channelValue
	})
}

// output rows read the reserved channel only for the special tokens.
func (g gen) output(name string, h, vocab uint64) gguf.Tensor {
	return g.matrix(name, []uint64{h, vocab}, func(row uint64, vals []float32) {
		vals[g.c] = 0
		if row >= firstSpecial && row < minVocab {
			vals[g.c] = suppression
		}
	})
}

// norm is an RMSNorm weight of ones. The norms in front of layers
// (keepChannel 0) zero the reserved channel so no layer reads it; the
// final norm and the per-head norms (keepChannel 1) keep every channel.
func (g gen) norm(name string, n uint64, keepChannel int) gguf.Tensor {
	return gguf.Tensor{Name: name, Dims: []uint64{n}, Type: gguf.F32, Fill: func(w io.Writer) error {
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = 1
		}
		if keepChannel == 0 && n == uint64(g.m.HiddenSize) {
			vals[g.c] = 0
		}
		return binary.Write(w, binary.LittleEndian, vals)
	}}
}

func (g gen) f32Random(name string, n uint64) func(io.Writer) error {
	return func(w io.Writer) error {
		r := g.rng(name)
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = uniform(r)
		}
		return binary.Write(w, binary.LittleEndian, vals)
	}
}

func uniform(r *rand.Rand) float32 {
	return float32((2*r.Float64() - 1) * weightStd * math.Sqrt(3))
}

// matrix writes rows of dims[0] random values; edit, when set, adjusts a
// row (numbered across all outer dimensions) before it is encoded.
func (g gen) matrix(name string, dims []uint64, edit func(row uint64, vals []float32)) gguf.Tensor {
	t := gguf.Tensor{Name: name, Dims: dims, Type: g.w}
	rows := t.Elements() / dims[0]
	t.Fill = func(w io.Writer) error {
		r := g.rng(name)
		vals := make([]float32, dims[0])
		buf := make([]byte, 0, 2*len(vals)+len(vals)/32*2)
		for row := range rows {
			for i := range vals {
				vals[i] = uniform(r)
			}
			if edit != nil {
				edit(row, vals)
			}
			buf = encode(buf[:0], g.w, vals)
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	}
	return t
}

// encode appends vals in type t.
func encode(dst []byte, t gguf.TensorType, vals []float32) []byte {
	switch t {
	case gguf.F16:
		for _, v := range vals {
			dst = binary.LittleEndian.AppendUint16(dst, F16(v))
		}
	case gguf.BF16:
		for _, v := range vals {
			dst = binary.LittleEndian.AppendUint16(dst, BF16(v))
		}
	case gguf.Q8_0:
		for b := 0; b < len(vals); b += 32 {
			block := vals[b : b+32]
			var amax float32
			for _, v := range block {
				amax = max(amax, float32(math.Abs(float64(v))))
			}
			d := amax / 127
			dst = binary.LittleEndian.AppendUint16(dst, F16(d))
			for _, v := range block {
				q := 0.0
				if d != 0 {
					q = math.Round(float64(v / d))
				}
				dst = append(dst, byte(int8(q)))
			}
		}
	}
	return dst
}

// F16 converts to IEEE half precision, rounding to nearest even.
func F16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b&0x7fffffff == 0:
		return sign
	case b>>23&0xff == 0xff: // inf, nan
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp >= 0x1f:
		return sign | 0x7c00
	case exp <= 0: // subnormal or zero
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := uint32(1) << (shift - 1)
		v := mant >> shift
		rem := mant & (1<<shift - 1)
		if rem > half || (rem == half && v&1 == 1) {
			v++
		}
		return sign | uint16(v)
	}
	v := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && v&1 == 1) {
		v++ // may carry into the exponent, which is right
	}
	return sign | uint16(v)
}

// BF16 converts to bfloat16, rounding to nearest even.
func BF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b >> 16 & 1)) >> 16)
}
