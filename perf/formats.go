package perf

import (
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
)

// Weight-format families whose linear layers run at their own share of the
// datasheet peak. The data support two beyond the base (bf16, fp8 and
// llama.cpp's int8-style q8_0/q4_0): see docs/performance-model.md.
const (
	familyBase   = ""
	familyKQuant = "kquant" // llama.cpp K-quants: q2_k ... q6_k, q4_k_m, ...
	familyFP4    = "fp4"    // nvfp4, mxfp4
)

// maxComputeRel bounds a family's efficiency relative to the profile's.
const maxComputeRel = 4.0

// formatFamily names the compute family of a weight format.
func formatFamily(f catalog.Format) string {
	switch {
	case f.Compute == "fp4":
		return familyFP4
	case strings.HasPrefix(f.Name, "q") && strings.Contains(f.Name, "_k"):
		return familyKQuant
	}
	return familyBase
}

type computeRel struct {
	name, family string
	v            float64
}

// rels lists the families' relative compute efficiencies as in the file.
func (c Coefficients) rels() [2]computeRel {
	return [2]computeRel{
		{"kquant_compute_rel", familyKQuant, c.KQuantComputeRel},
		{"fp4_compute_rel", familyFP4, c.FP4ComputeRel},
	}
}

// computeRel is the factor on the linear-layer compute efficiencies for
// weights of format f: 1 for the base family or where the profile sets none.
func (c Coefficients) computeRel(f catalog.Format) float64 {
	fam := formatFamily(f)
	for _, r := range c.rels() {
		if r.family == fam && r.v > 0 {
			return r.v
		}
	}
	return 1
}

// setRel sets the relative compute efficiency of family fam.
func (c *Coefficients) setRel(fam string, v float64) {
	switch fam {
	case familyKQuant:
		c.KQuantComputeRel = v
	case familyFP4:
		c.FP4ComputeRel = v
	}
}
