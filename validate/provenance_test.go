package validate

import (
	"context"
	"strings"
	"testing"
)

// TestBasis: each row run carries what its prediction rests on. gpt-oss-20b
// in MXFP4 on llama.cpp's fitted Spark profile rests on a format prior (no
// fit set fp4_compute_rel), a bench row and a serving row alike; Qwen3-14B
// in Q4_K_M there rests on the fit alone (its label is the profile's); a row
// on vLLM's Spark profile, a prior, rests on the profile; a row not run
// carries nothing.
func TestBasis(t *testing.T) {
	e := env(t)
	res, err := Reproduce(context.Background(), e, rows(t,
		"oss-pp,dgx-spark,llama.cpp,gpt-oss-20b,mxfp4,,,bench-prefill,1,,,2048,0,0,0,ubatch=2048,prefill_tps,3610,tok/s,s,",
		"oss-burst,dgx-spark,llama.cpp,gpt-oss-20b,mxfp4,,,burst,,4,,256,32,,0,,ttft_ms_mean,500,ms,s,",
		"q14-tg,dgx-spark,llama.cpp,qwen3-14b,q4_k_m,,,bench-decode,1,,,0,32,0,0,,decode_tps,25,tok/s,s,",
		"v8-tg,dgx-spark,vllm,qwen3-8b,bf16,,,bench-decode,1,,,0,256,0,0,,decode_tps,13.1,tok/s,s,",
		"tp16,h100-sxm,vllm,qwen3-8b,bf16,,16,closed-loop,1,10,,100,100,,0,,ttft_ms_mean,50,ms,s,",
	))
	if err != nil {
		t.Fatal(err)
	}
	lcpp, err := e.Profiles.Get("dgx-spark", "llama.cpp")
	if err != nil {
		t.Fatal(err)
	}
	vllm, err := e.Profiles.Get("dgx-spark", "vllm")
	if err != nil {
		t.Fatal(err)
	}
	const oss = "mxfp4 experts: prior (fp4_compute_rel not fitted"
	for _, tc := range []struct {
		id           string
		label        string // the label's prefix
		formatPrior  string // the one format prior's prefix; "" for none
		profilePrior bool
	}{
		{"oss-pp", lcpp.Label() + "; " + oss, oss, false},
		{"oss-burst", lcpp.Label() + "; " + oss, oss, false},
		{"q14-tg", lcpp.Label(), "", false},
		{"v8-tg", vllm.Label(), "", true},
	} {
		var r Result
		for _, x := range res {
			if x.ID == tc.id {
				r = x
			}
		}
		if !r.Ran() {
			t.Errorf("%s not run: %v", tc.id, r.Err)
			continue
		}
		b := r.Basis
		if !strings.HasPrefix(b.Label, tc.label) || tc.formatPrior == "" && b.Label != tc.label {
			t.Errorf("%s: label %q, want %q...", tc.id, b.Label, tc.label)
		}
		if tc.formatPrior == "" && len(b.FormatPriors) != 0 || tc.formatPrior != "" && (len(b.FormatPriors) != 1 || !strings.HasPrefix(b.FormatPriors[0], tc.formatPrior)) {
			t.Errorf("%s: format priors %q, want %q", tc.id, b.FormatPriors, tc.formatPrior)
		}
		if b.ProfilePrior != tc.profilePrior || b.Prior() != (tc.profilePrior || tc.formatPrior != "") {
			t.Errorf("%s: profile prior %v, prior %v", tc.id, b.ProfilePrior, b.Prior())
		}
	}
	if r := res[len(res)-1]; r.Ran() || r.Basis.Label != "" || r.Basis.Prior() {
		t.Errorf("row not run carries %+v", r.Basis)
	}
}
