package catalog

import "github.com/fleettwin/fleettwin/internal/tomlcheck"

// Windowed reports whether some of the model's layers attend through a
// sliding window (gpt-oss: every other layer over the last 128 tokens).
func (m Model) Windowed() bool { return m.SlidingWindow > 0 && m.SlidingWindowLayers > 0 }

// WindowedLayerShare is the share of layers that attend through the
// sliding window: 0 for a model without one.
func (m Model) WindowedLayerShare() float64 {
	if !m.Windowed() || m.Layers == 0 {
		return 0
	}
	return float64(m.SlidingWindowLayers) / float64(m.Layers)
}

// KVBytes is the KV cache one sequence of tokens keeps: every
// full-attention layer all of them, each sliding-window layer at most the
// window, as llama.cpp keeps it without --swa-full (its SWA cache drops
// what the window has passed). For a model without a window it is tokens
// × KVBytesPerToken.
func (m Model) KVBytes(kv KVType, tokens int) float64 {
	if !m.Windowed() {
		return float64(tokens) * m.KVBytesPerToken(kv)
	}
	perLayer := 2 * float64(m.KVHeads*m.HeadDim) * kv.Bits / 8
	full := float64(m.Layers - m.SlidingWindowLayers)
	return perLayer * (full*float64(tokens) + float64(m.SlidingWindowLayers)*float64(min(tokens, m.SlidingWindow)))
}

func (v *validator) window(m Model) {
	k := func(f string) []string { return []string{"models", m.Name, f} }
	w, l := v.md.IsDefined(k("sliding_window")...), v.md.IsDefined(k("sliding_window_layers")...)
	switch {
	case w && !l:
		v.AddKind(tomlcheck.Missing, k("sliding_window_layers"), "required with sliding_window: how many layers attend through the window")
		return
	case l && !w:
		v.AddKind(tomlcheck.Missing, k("sliding_window"), "required with sliding_window_layers: the window's size in tokens")
		return
	case !w:
		return
	}
	if m.SlidingWindow < 1 || m.SlidingWindow > maxVocab {
		v.AddKind(tomlcheck.OutOfRange, k("sliding_window"), "must be in [1, %d] tokens, got %d", maxVocab, m.SlidingWindow)
	}
	if m.SlidingWindowLayers < 1 || m.SlidingWindowLayers > m.Layers {
		v.AddKind(tomlcheck.OutOfRange, k("sliding_window_layers"), "must be in [1, layers (%d)], got %d", m.Layers, m.SlidingWindowLayers)
	}
}
