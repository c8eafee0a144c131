package perf

import (
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
)

// Weight-format families whose linear layers run at their own share of the
// datasheet peak. The data support three beyond the base (bf16 and
// llama.cpp's int8-style q8_0/q4_0): see docs/performance-model.md.
const (
	familyBase   = ""
	familyKQuant = "kquant" // llama.cpp K-quants: q2_k ... q6_k, q4_k_m, ...
	familyFP4    = "fp4"    // nvfp4, mxfp4
	familyFP8    = "fp8"    // fp8 weights (W8A8 on FP8 tensor cores, or W8A16 where a device has none)
)

// maxComputeRel bounds a family's efficiency relative to the profile's.
const maxComputeRel = 4.0

// formatFamily names the compute family of a weight format.
func formatFamily(f catalog.Format) string {
	switch {
	case f.Compute == "fp4":
		return familyFP4
	case f.Compute == "fp8":
		return familyFP8
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
func (c Coefficients) rels() [3]computeRel {
	return [3]computeRel{
		{"kquant_compute_rel", familyKQuant, c.KQuantComputeRel},
		{"fp4_compute_rel", familyFP4, c.FP4ComputeRel},
		{"fp8_compute_rel", familyFP8, c.FP8ComputeRel},
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
	case familyFP8:
		c.FP8ComputeRel = v
	}
}

// ExpertFormat is the routed experts' format: Experts where it is set,
// Weights otherwise.
func (in Instance) ExpertFormat() catalog.Format {
	if in.Experts.Name == "" && in.Experts.BitsPerWeight == 0 {
		return in.Weights
	}
	return in.Experts
}

// ggufEngines run llama.cpp's kernels.
func ggufEngine(engine string) bool { return engine == "llama.cpp" || engine == "ollama" }

// kernelDtype is the tensor-core dtype an engine's matrix multiplications
// of weights in format f run in: the format's own, except FP4 formats
// under llama.cpp and Ollama, whose CUDA MMQ kernels expand MXFP4 blocks
// to int8 tiles and multiply on the int8 tensor cores (ggml-cuda/mmq.cuh:
// load_tiles_mxfp4 with vec_dot_q8_0_q8_1_mma wherever its Blackwell FP4
// path, load_tiles_mxfp4_fp4, is not built; ASSUMED for the builds of the
// data, and for NVFP4 alike). Other engines' FP4 kernels run at the FP4
// peak.
func kernelDtype(f catalog.Format, engine string) string {
	if f.Compute == "fp4" && ggufEngine(engine) {
		return "int8"
	}
	return f.Compute
}

// splitBytes is the bytes of params weights of which experts are routed
// experts', each part in its format: params × bits / 8 when the formats
// are one.
func (in Instance) splitBytes(params, experts float64) float64 {
	e := in.ExpertFormat()
	if e == in.Weights {
		return params * in.Weights.BitsPerWeight / 8
	}
	return (params-experts)*in.Weights.BitsPerWeight/8 + experts*e.BitsPerWeight/8
}

// CarryRels copies from donor the format families' relative compute
// efficiencies that c's own fit did not set (not in fitted) and that
// donor's fit did (in donorFitted): a family's GEMM kernels on a device
// are much the same whichever engine calls them, so an engine fitted on
// bf16 runs alone can borrow the FP8 factor of one fitted on both. It
// returns the names carried, in rels order.
func (c *Coefficients) CarryRels(donor Coefficients, fitted, donorFitted []string) []string {
	var carried []string
	for _, r := range donor.rels() {
		if !(r.v > 0) || slices.Contains(fitted, r.name) || !slices.Contains(donorFitted, r.name) {
			continue
		}
		c.setRel(r.family, r.v)
		carried = append(carried, r.name)
	}
	return carried
}
