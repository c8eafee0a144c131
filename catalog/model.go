package catalog

// Model is a transformer architecture as its config.json describes it. All
// parameter counts are derived from these values, never typed in, so a wrong
// field shows up as a wrong total in the tests.
type Model struct {
	Name                  string  `toml:"-"`
	DisplayName           string  `toml:"display_name"`
	HFRepo                string  `toml:"hf_repo"`
	Layers                int     `toml:"layers"`
	HiddenSize            int     `toml:"hidden_size"`
	IntermediateSize      int     `toml:"intermediate_size"`
	AttentionHeads        int     `toml:"attention_heads"`
	KVHeads               int     `toml:"kv_heads"`
	HeadDim               int     `toml:"head_dim"`
	VocabSize             int     `toml:"vocab_size"`
	MaxPositionEmbeddings int     `toml:"max_position_embeddings"`
	TieWordEmbeddings     bool    `toml:"tie_word_embeddings"`
	QKVBias               bool    `toml:"qkv_bias"`
	QKNorm                bool    `toml:"qk_norm"`
	Experts               int     `toml:"experts"`           // 0 for a dense model
	ExpertsPerToken       int     `toml:"experts_per_token"` // experts each token is routed to
	ExpertIntermediate    int     `toml:"expert_intermediate_size"`
	RopeTheta             float64 `toml:"rope_theta"`
	RMSNormEps            float64 `toml:"rms_norm_eps"`

	// Beyond Qwen3's architecture (gpt-oss; all optional, zero: absent).
	// OBias is a bias on the attention output projection (with QKVBias,
	// config.json's attention_bias); AttentionSinks one learned logit per
	// query head and layer; ExpertBias biases on every expert's
	// projections and on the router (mlp_bias).
	OBias          bool `toml:"o_bias"`
	AttentionSinks bool `toml:"attention_sinks"`
	ExpertBias     bool `toml:"expert_bias"`
	// SlidingWindow is the attention window in tokens of the
	// SlidingWindowLayers layers that use one (window.go).
	SlidingWindow       int `toml:"sliding_window"`
	SlidingWindowLayers int `toml:"sliding_window_layers"`
	// ExpertFormat, DenseFormat and GGUFDenseFormat describe a MoE
	// model released with only its routed experts quantized
	// (native.go).
	ExpertFormat    string `toml:"expert_format"`
	DenseFormat     string `toml:"dense_format"`
	GGUFDenseFormat string `toml:"gguf_dense_format"`
	// Vision is a vision-language model's image encoder (vision.go):
	// its weights are held in memory, but text requests never run it.
	Vision *VisionEncoder `toml:"vision"`
}

// MoE reports whether the model's feed-forward layers are mixtures of experts.
func (m Model) MoE() bool { return m.Experts > 0 }

// AttentionParams is the per-layer count of the Q, K, V and O projections,
// their biases and the per-head Q/K norms.
func (m Model) AttentionParams() int64 {
	h, q, kv := int64(m.HiddenSize), int64(m.AttentionHeads*m.HeadDim), int64(m.KVHeads*m.HeadDim)
	n := h*q + 2*h*kv + q*h
	if m.QKVBias {
		n += q + 2*kv
	}
	if m.QKNorm {
		n += 2 * int64(m.HeadDim)
	}
	if m.OBias {
		n += h
	}
	if m.AttentionSinks {
		n += int64(m.AttentionHeads)
	}
	return n
}

// DenseMLPParams is the per-layer gate, up and down projection count of a
// dense model, 0 for a MoE model.
func (m Model) DenseMLPParams() int64 {
	if m.MoE() {
		return 0
	}
	return 3 * int64(m.HiddenSize) * int64(m.IntermediateSize)
}

// ExpertParams is the parameter count of one expert in one layer.
func (m Model) ExpertParams() int64 {
	h, i := int64(m.HiddenSize), int64(m.ExpertIntermediate)
	n := 3 * h * i
	if m.ExpertBias {
		n += 2*i + h // gate and up, down
	}
	return n
}

// RouterParams is the per-layer gating matrix of a MoE model.
func (m Model) RouterParams() int64 {
	n := int64(m.HiddenSize) * int64(m.Experts)
	if m.ExpertBias {
		n += int64(m.Experts)
	}
	return n
}

// NormParams is the per-layer RMSNorm weights (before attention and MLP).
func (m Model) NormParams() int64 { return 2 * int64(m.HiddenSize) }

// DenseLayerParams is what every token uses in each layer: attention, norms,
// the router and a dense MLP, but no experts.
func (m Model) DenseLayerParams() int64 {
	return m.AttentionParams() + m.NormParams() + m.RouterParams() + m.DenseMLPParams()
}

// EmbeddingParams is the input embedding table.
func (m Model) EmbeddingParams() int64 { return int64(m.VocabSize) * int64(m.HiddenSize) }

// LMHeadParams is the output projection's size, whether or not it shares its
// storage with the embedding table: it is read and multiplied either way.
func (m Model) LMHeadParams() int64 { return int64(m.VocabSize) * int64(m.HiddenSize) }

// Params is the total parameter count as published: tied embeddings count
// once, a vision encoder counts.
func (m Model) Params() int64 {
	return m.params(int64(m.Experts)) + m.VisionParams()
}

// ActiveParams is the parameter count one text token uses: for MoE models
// only the experts it is routed to, and never a vision encoder. Equals
// Params for dense text models.
func (m Model) ActiveParams() int64 {
	return m.params(int64(m.ExpertsPerToken))
}

func (m Model) params(experts int64) int64 {
	layer := m.DenseLayerParams() + experts*m.ExpertParams()
	n := int64(m.Layers)*layer + m.EmbeddingParams() + int64(m.HiddenSize) // final norm
	if !m.TieWordEmbeddings {
		n += m.LMHeadParams()
	}
	return n
}

// WeightParams is the parameter count held in memory: every stored tensor.
func (m Model) WeightParams() int64 { return m.Params() }

// KVBytesPerToken is the KV-cache size of one token over all layers.
func (m Model) KVBytesPerToken(kv KVType) float64 {
	return float64(m.Layers) * 2 * float64(m.KVHeads*m.HeadDim) * kv.Bits / 8
}
