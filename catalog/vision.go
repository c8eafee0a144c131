package catalog

import "github.com/fleettwin/fleettwin/internal/tomlcheck"

// VisionEncoder is a vision-language model's image encoder as config.json's
// vision_config describes it (Qwen3-VL's ViT: patch embedding, position
// table, transformer blocks with biased linear layers and LayerNorms, a
// patch merger into the text model's width and one more merger per
// deepstack layer). Its parameters count in the model's weights (they are
// loaded and held) but not in a text token's compute: a text-only request
// never runs the encoder.
type VisionEncoder struct {
	Layers             int `toml:"layers"`              // depth
	HiddenSize         int `toml:"hidden_size"`         // hidden_size
	IntermediateSize   int `toml:"intermediate_size"`   // intermediate_size
	InChannels         int `toml:"in_channels"`         // in_channels
	PatchSize          int `toml:"patch_size"`          // patch_size
	TemporalPatchSize  int `toml:"temporal_patch_size"` // temporal_patch_size
	SpatialMergeSize   int `toml:"spatial_merge_size"`  // spatial_merge_size
	PositionEmbeddings int `toml:"position_embeddings"` // num_position_embeddings
	OutHiddenSize      int `toml:"out_hidden_size"`     // out_hidden_size: the text model's width
	// DeepstackMergers is len(deepstack_visual_indexes): the layers whose
	// features get their own merger into the text model.
	DeepstackMergers int `toml:"deepstack_mergers"`
}

// Params counts the encoder's tensors as transformers' Qwen3-VL vision
// model holds them.
func (v VisionEncoder) Params() int64 {
	h, i := int64(v.HiddenSize), int64(v.IntermediateSize)
	linear := func(in, out int64) int64 { return in*out + out }                  // weight and bias
	block := linear(h, 3*h) + linear(h, h) + linear(h, i) + linear(i, h) + 2*2*h // qkv, proj, fc1, fc2, two LayerNorms
	patch := int64(v.InChannels)*int64(v.TemporalPatchSize)*int64(v.PatchSize)*int64(v.PatchSize)*h + h
	pos := int64(v.PositionEmbeddings) * h
	merged := h * int64(v.SpatialMergeSize) * int64(v.SpatialMergeSize)
	mlp := linear(merged, merged) + linear(merged, int64(v.OutHiddenSize))
	merger := 2*h + mlp         // LayerNorm before the spatial shuffle
	deepstack := 2*merged + mlp // LayerNorm after it
	return int64(v.Layers)*block + patch + pos + merger + int64(v.DeepstackMergers)*deepstack
}

// VisionParams is the vision encoder's parameter count, 0 for a text model.
func (m Model) VisionParams() int64 {
	if m.Vision == nil {
		return 0
	}
	return m.Vision.Params()
}

func (v *validator) vision(m Model) {
	if m.Vision == nil {
		return
	}
	e := m.Vision
	k := func(f string) []string { return []string{"models", m.Name, "vision", f} }
	for _, d := range []struct {
		n, hi int
		f     string
	}{{e.Layers, maxVisionDim, "layers"}, {e.HiddenSize, maxVisionDim, "hidden_size"}, {e.IntermediateSize, maxVisionDim, "intermediate_size"},
		{e.InChannels, maxVisionPatch, "in_channels"}, {e.PatchSize, maxVisionPatch, "patch_size"}, {e.TemporalPatchSize, maxVisionPatch, "temporal_patch_size"},
		{e.SpatialMergeSize, maxVisionPatch, "spatial_merge_size"}, {e.PositionEmbeddings, maxVisionDim, "position_embeddings"}, {e.OutHiddenSize, maxVisionDim, "out_hidden_size"}} {
		v.positive(float64(d.n), k(d.f)...)
		if d.n > d.hi {
			v.AddKind(tomlcheck.OutOfRange, k(d.f), "must be at most %d, got %d", d.hi, d.n)
		}
	}
	if e.DeepstackMergers < 0 || e.DeepstackMergers > e.Layers {
		v.AddKind(tomlcheck.OutOfRange, k("deepstack_mergers"), "must be in [0, layers (%d)], got %d", e.Layers, e.DeepstackMergers)
	}
}

// maxVisionDim bounds an encoder's widths, depth and position table, and
// maxVisionPatch its patch, channel and merge sizes (the largest published:
// 1152 wide, 27 deep, patches of 16 merged 2 × 2): the products Params
// takes stay far from int64 overflow.
const (
	maxVisionDim   = 1 << 14
	maxVisionPatch = 64
)
