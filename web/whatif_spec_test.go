package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/fleettwin/fleettwin/scenario"
)

// The what-if form's speculative fields make, edit and drop an instance's
// [speculative] table, and a bad value is refused naming its field.
func TestWhatIfSpeculative(t *testing.T) {
	ts := newTestServer(t, "", "")
	const p = "nodes.0.instances.0.speculative."
	post := func(edit map[string]string) (int, string, map[string]string) {
		t.Helper()
		f := whatifFields(t, ts.doc(t, "/whatif"))
		for k, v := range edit {
			f[k] = v
		}
		f["action"] = "download"
		body, ctype := multipartForm(t, f, "")
		resp, page := ts.do(t, "POST", "/whatif", body, ctype)
		d, _ := goquery.NewDocumentFromReader(strings.NewReader(page))
		return resp.StatusCode, page, map[string]string{"error": byTestID(d, "whatif-error").Text()}
	}
	d := ts.doc(t, "/whatif")
	if v, _ := byTestID(d, "field-"+p+"method").Attr("value"); v != "off" {
		t.Fatalf("the seed's method field is %q, want off", v)
	}
	if d.Find(`datalist#choices-speculative option`).Length() != 4 || d.Find(`datalist#choices-drafts option[value="qwen3-0.6b"]`).Length() != 1 {
		t.Error("the methods or the catalog's draft models are not offered")
	}

	code, got, _ := post(map[string]string{p + "method": "draft", p + "draft_model": "qwen3-0.6b", p + "proposal_tokens": "4", p + "acceptance_rate": "0.7"})
	if code != http.StatusOK {
		t.Fatalf("a draft model: status %d\n%.2000s", code, got)
	}
	f, _, err := scenario.Decode("got.toml", []byte(got))
	if err != nil {
		t.Fatal(err)
	}
	want := scenario.Speculative{Method: "draft", DraftModel: "qwen3-0.6b", ProposalTokens: 4, AcceptanceRate: 0.7}
	if sp := f.Nodes[0].Instances[0].Speculative; sp == nil || *sp != want {
		t.Errorf("instance 0's [speculative] = %+v, want %+v", sp, want)
	}
	if sp := f.Nodes[0].Instances[1].Speculative; sp != nil {
		t.Errorf("instance 1 got a [speculative] table too: %+v", sp)
	}

	for _, tc := range []struct {
		name  string
		edit  map[string]string
		wants []string
	}{
		{"unknown method", map[string]string{p + "method": "medusa"}, []string{p + "method", `"medusa" is not off, draft, eagle or mtp`}},
		{"field while off", map[string]string{p + "proposal_tokens": "4"}, []string{p + "proposal_tokens", "speculative decoding is off"}},
		{"k not a number", map[string]string{p + "method": "eagle", p + "proposal_tokens": "many"}, []string{p + "proposal_tokens", `"many" is not a whole number`}},
		{"k out of range", map[string]string{p + "method": "eagle", p + "proposal_tokens": "99", p + "acceptance_rate": "0.6"}, []string{"nodes[0].instances[0].speculative.proposal_tokens", "must be in [1, 16]"}},
		{"alpha out of range", map[string]string{p + "method": "mtp", p + "proposal_tokens": "2", p + "acceptance_rate": "1.5"}, []string{"speculative.acceptance_rate", "must be in [0, 1)"}},
		{"draft without a model", map[string]string{p + "method": "draft", p + "proposal_tokens": "3", p + "acceptance_rate": "0.6"}, []string{"speculative.draft_model", "needs a draft model"}},
	} {
		code, _, page := post(tc.edit)
		if code != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d", tc.name, code)
		}
		for _, w := range tc.wants {
			if !strings.Contains(page["error"], w) {
				t.Errorf("%s: error %q lacks %q", tc.name, page["error"], w)
			}
		}
	}

	// A table the TOML has is shown, and method off drops it.
	f0 := whatifFields(t, ts.doc(t, "/whatif"))
	f0["toml"] = got
	f0["action"] = "add-instance:0" // re-render the form from this TOML
	body, ctype := multipartForm(t, f0, "")
	_, page := ts.do(t, "POST", "/whatif", body, ctype)
	d, _ = goquery.NewDocumentFromReader(strings.NewReader(page))
	f1 := whatifFields(t, d)
	if f1[p+"method"] != "draft" || f1[p+"proposal_tokens"] != "4" || f1[p+"acceptance_rate"] != "0.7" || f1[p+"draft_model"] != "qwen3-0.6b" {
		t.Fatalf("the form does not show the table: %q %q %q %q", f1[p+"method"], f1[p+"draft_model"], f1[p+"proposal_tokens"], f1[p+"acceptance_rate"])
	}
	f1[p+"method"], f1["action"] = "off", "download"
	body, ctype = multipartForm(t, f1, "")
	resp, off := ts.do(t, "POST", "/whatif", body, ctype)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("method off: status %d\n%.1500s", resp.StatusCode, off)
	}
	fo, _, err := scenario.Decode("off.toml", []byte(off))
	if err != nil || fo.Nodes[0].Instances[0].Speculative != nil {
		t.Errorf("method off kept the table: %v", err)
	}
}
