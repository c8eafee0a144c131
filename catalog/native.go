package catalog

import (
	"fmt"
	"strings"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// defaultDenseFormat is what a model released with only its experts
// quantized keeps the rest in when its entry names no dense_format.
const defaultDenseFormat = "bf16"

// ggufEngines load GGUF files, whose conversion of a release may store the
// weights outside the experts in another format than the release
// (Model.GGUFDenseFormat).
var ggufEngines = []string{"llama.cpp", "ollama"}

// WeightFormats returns the formats an instance of m in the weight format
// named quant stores its weights in under engine: dense for every weight
// but the routed experts, experts for those. They are the same format
// except for a model whose release quantizes only its experts
// (Model.ExpertFormat, gpt-oss's MXFP4): an instance in that format is the
// release, its experts in it and the rest in DenseFormat (bf16 by
// default), or in GGUFDenseFormat when a GGUF engine (llama.cpp, Ollama)
// runs it and the entry names one.
func (c *Catalog) WeightFormats(m Model, quant, engine string) (dense, experts Format, err error) {
	f, err := c.Format(quant)
	if err != nil {
		return f, f, err
	}
	if m.ExpertFormat == "" || !strings.EqualFold(f.Name, m.ExpertFormat) {
		return f, f, nil
	}
	name := m.DenseFormat
	if name == "" {
		name = defaultDenseFormat
	}
	for _, e := range ggufEngines {
		if strings.EqualFold(engine, e) && m.GGUFDenseFormat != "" {
			name = m.GGUFDenseFormat
		}
	}
	d, err := c.Format(name)
	if err != nil {
		return f, f, fmt.Errorf("model %s: dense format: %w", m.Name, err)
	}
	return d, f, nil
}

// native checks a model's native-quantization fields on their own; the
// names are checked against the merged catalog by checkRefs.
func (v *validator) native(m Model) {
	k := func(f string) []string { return []string{"models", m.Name, f} }
	if v.md.IsDefined(k("expert_format")...) && m.Experts == 0 {
		v.Add(k("expert_format"), "only allowed with experts > 0: a dense model has no routed experts")
	}
	if v.md.IsDefined(k("expert_bias")...) && m.Experts == 0 {
		v.Add(k("expert_bias"), "only allowed with experts > 0: a dense model has no experts or router")
	}
	for _, f := range []string{"dense_format", "gguf_dense_format"} {
		if v.md.IsDefined(k(f)...) && m.ExpertFormat == "" {
			v.Add(k(f), "only allowed with expert_format: it names the format of the weights outside the experts")
		}
	}
}

// checkFormatRefs checks that the formats models name exist.
func (c *Catalog) checkFormatRefs(errs *tomlcheck.Errors) {
	for _, n := range sortedKeys(c.Models) {
		m := c.Models[n]
		for _, f := range []struct{ key, name string }{{"expert_format", m.ExpertFormat}, {"dense_format", m.DenseFormat}, {"gguf_dense_format", m.GGUFDenseFormat}} {
			if f.name == "" {
				continue
			}
			if _, err := c.Format(f.name); err != nil {
				errs.AddKind(tomlcheck.NotFound, []string{"models", n, f.key}, "no [formats.%s]; valid: %v", f.name, sortedKeys(c.Formats))
			}
		}
	}
}
