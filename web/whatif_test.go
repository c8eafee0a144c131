package web

import (
	"html"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/fleettwin/fleettwin/scenario"
)

func multipartForm(t *testing.T, fields map[string]string, upload string) (io.Reader, string) {
	t.Helper()
	var b strings.Builder
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if upload != "" {
		f, _ := w.CreateFormFile("upload", "mine.toml")
		f.Write([]byte(upload))
	}
	w.Close()
	return strings.NewReader(b.String()), w.FormDataContentType()
}

// whatifFields reads the form the page rendered: every field with its
// value, and the TOML.
func whatifFields(t *testing.T, d *goquery.Document) map[string]string {
	t.Helper()
	f := map[string]string{}
	d.Find("form[data-testid=whatif-form] input").Each(func(_ int, s *goquery.Selection) {
		if n, ok := s.Attr("name"); ok && n != "upload" {
			f[n], _ = s.Attr("value")
		}
	})
	f["toml"] = byTestID(d, "toml").Text()
	return f
}

func TestWhatIf(t *testing.T) {
	ts := newTestServer(t, "", "")
	form := whatifFields(t, ts.doc(t, "/whatif"))
	const rate = "models.qwen3-8b.workload.arrival.rate"
	if form[rate] != "0.1" || form["nodes.0.hardware"] != "dgx-spark" || !strings.Contains(form["toml"], `name = "seed-colocated"`) {
		t.Fatalf("form from the seed: rate %q, hardware %q", form[rate], form["nodes.0.hardware"])
	}
	// Hardware and node types, engines, weight formats and served models
	// are offered.
	d := ts.doc(t, "/whatif")
	if list, _ := byTestID(d, "field-nodes.0.hardware").Attr("list"); d.Find("datalist#"+list+" option").Length() != len(cat.Hardware)+len(cat.NodeTypes) {
		t.Errorf("hardware field's list %q offers %d devices", list, d.Find("datalist#"+list+" option").Length())
	}
	if d.Find(`datalist#choices-models option[value="qwen3-14b"]`).Length() != 1 {
		t.Error("the served models are not offered")
	}

	// Changing a field runs the changed scenario; an edit made in the
	// TOML alone is kept.
	form[rate] = "0.2"
	form["toml"] = strings.Replace(form["toml"], "duration_s = 14400", "duration_s = 3600", 1)
	form["speed"], form["action"] = "0", "run"
	body, ctype := multipartForm(t, form, "")
	resp, page := ts.do(t, "POST", "/whatif", body, ctype)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("what-if run: %d\n%s", resp.StatusCode, page)
	}
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/runs/")
	st := ts.wait(t, id)
	sc, _, err := scenario.Decode("run.toml", mustRun(t, ts, id).Scenario())
	if err != nil || sc.Models["qwen3-8b"].Workload.Arrival.Rate != 0.2 || sc.DurationS != 3600 || st.DurationS != 3600 {
		t.Errorf("what-if scenario: %v, rate %v, duration %v", err, sc.Models["qwen3-8b"].Workload.Arrival.Rate, sc.DurationS)
	}

	// Bad input: a field that is not a number, a model that does not
	// exist, TOML that does not parse. Each says where.
	for _, tc := range []struct {
		name  string
		edit  func(map[string]string)
		wants []string
	}{
		{"not a number", func(f map[string]string) { f[rate] = "fast" }, []string{rate, `"fast" is not a number`}},
		{"unknown model", func(f map[string]string) { f["nodes.0.instances.0.quant"] = "q3" }, []string{"nodes[0].instances[0].quant", "unknown weight format"}},
		{"broken TOML", func(f map[string]string) { f["toml"] = "name = \n" }, []string{"what-if.toml:1"}},
		{"does not fit", func(f map[string]string) {
			f["nodes.0.hardware"], f["nodes.0.engine"] = "l40s", "vllm"
			f["nodes.0.instances.0.quant"], f["nodes.0.instances.1.quant"] = "bf16", "bf16"
		}, []string{"nodes[0].instances[1].memory_fraction", "short by 7.27 GiB"}},
	} {
		f := whatifFields(t, ts.doc(t, "/whatif"))
		tc.edit(f)
		f["action"] = "run"
		body, ctype := multipartForm(t, f, "")
		resp, page := ts.do(t, "POST", "/whatif", body, ctype)
		d, _ := goquery.NewDocumentFromReader(strings.NewReader(page))
		msg := byTestID(d, "whatif-error").Text()
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d", tc.name, resp.StatusCode)
		}
		for _, w := range tc.wants {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q lacks %q", tc.name, msg, w)
			}
		}
	}

	// Upload a file and download it back, normalised.
	up := strings.Replace(form["toml"], `name = "seed-colocated"`, `name = "uploaded"`, 1)
	body, ctype = multipartForm(t, map[string]string{"action": "download"}, up)
	resp, got := ts.do(t, "POST", "/whatif", body, ctype)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), "uploaded.toml") || !strings.Contains(got, `name = "uploaded"`) {
		t.Errorf("upload and download: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Disposition"), got)
	}
}

// Each browser has a what-if session: the runs it starts are its history,
// and another browser does not see them.
func TestWhatIfSessionHistory(t *testing.T) {
	ts := newTestServer(t, "", "")
	jar := func() *http.Client {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		c.Jar, _ = cookiejar.New(nil)
		return c
	}
	alice, bob := jar(), jar()
	history := func(c *http.Client) []string {
		resp, err := c.Get(ts.url + "/whatif")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		d, _ := goquery.NewDocumentFromReader(resp.Body)
		var ids []string
		byTestID(d, "history-row").Find("input[name=pick]").Each(func(_ int, s *goquery.Selection) {
			v, _ := s.Attr("value")
			ids = append(ids, v)
		})
		return ids
	}
	if h := history(alice); len(h) != 0 {
		t.Fatalf("a new session has history %v", h)
	}
	var started []string
	for range 2 {
		resp, err := alice.PostForm(ts.url+"/runs", url.Values{"scenario": {"seed-separate.toml"}, "speed": {"0"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		started = append([]string{strings.TrimPrefix(resp.Header.Get("Location"), "/runs/")}, started...)
	}
	if h := history(alice); !slices.Equal(h, started) {
		t.Errorf("alice's history %v, started %v", h, started)
	}
	if h := history(bob); len(h) != 0 {
		t.Errorf("bob sees alice's runs: %v", h)
	}
	for _, id := range started {
		ts.wait(t, id)
	}
}

// Placement controls add and remove instances and node groups in the
// form, without running anything, and refuse to leave nothing.
func TestWhatIfPlacement(t *testing.T) {
	ts := newTestServer(t, "", "")
	post := func(form map[string]string) (int, *goquery.Document) {
		body, ctype := multipartForm(t, form, "")
		resp, page := ts.do(t, "POST", "/whatif", body, ctype)
		d, _ := goquery.NewDocumentFromReader(strings.NewReader(page))
		return resp.StatusCode, d
	}
	form := whatifFields(t, ts.doc(t, "/whatif"))
	form["action"] = "add-instance:0"
	code, d := post(form)
	if n := byTestID(d, "group").First().Find("li").Length(); code != 200 || n != 3 {
		t.Fatalf("add an instance: %d, %d instances", code, n)
	}
	form = whatifFields(t, d)
	form["action"] = "add-group:0"
	_, d = post(form)
	groups := byTestID(d, "group")
	if groups.Length() != 2 || !strings.Contains(groups.Last().Text(), "spark-2") {
		t.Fatalf("copy the group: %d groups %q", groups.Length(), groups.Last().Text())
	}
	form = whatifFields(t, d)
	if !strings.Contains(form["toml"], `name = "spark-2"`) || strings.Count(form["toml"], "[[nodes.instances]]") != 6 {
		t.Errorf("the TOML does not have the new placement:\n%s", form["toml"])
	}
	form["action"] = "remove-group:0"
	_, d = post(form)
	form = whatifFields(t, d)
	form["action"] = "remove-instance:0:2"
	_, d = post(form)
	form = whatifFields(t, d)
	if n := byTestID(d, "group").Length(); n != 1 || strings.Count(form["toml"], "[[nodes.instances]]") != 2 {
		t.Fatalf("after removing: %d groups, TOML\n%s", n, form["toml"])
	}
	for action, want := range map[string]string{
		"remove-group:0":      "at least one node group",
		"remove-instance:0:9": "no instance 9",
		"add-instance:7":      "no node group 7",
	} {
		f := maps.Clone(form)
		f["action"] = action
		code, d := post(f)
		if msg := byTestID(d, "whatif-error").Text(); code != http.StatusUnprocessableEntity || !strings.Contains(msg, want) {
			t.Errorf("%s: %d %q, want %q", action, code, msg, want)
		}
	}
	// The edited placement runs.
	form["action"], form["speed"] = "run", "0"
	body, ctype := multipartForm(t, form, "")
	resp, page := ts.do(t, "POST", "/whatif", body, ctype)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("run: %d\n%s", resp.StatusCode, page)
	}
	ts.wait(t, strings.TrimPrefix(resp.Header.Get("Location"), "/runs/"))
}

// The form takes a node type as hardware and each instance's tp, pp and
// ep; the placement names the layout, and a layout on a plain device is
// refused under its field.
func TestWhatIfLayout(t *testing.T) {
	ts := newTestServer(t, "", "")
	for _, tc := range []struct {
		name  string
		edit  map[string]string
		code  int
		wants []string
	}{
		{"tp4 on an HGX board", map[string]string{"nodes.0.hardware": "hgx-h100-8", "nodes.0.engine": "vllm",
			"nodes.0.instances.0.quant": "fp8", "nodes.0.instances.1.quant": "fp8", "nodes.0.instances.0.tp": "4", "nodes.0.instances.1.tp": "4"},
			http.StatusOK, []string{`hardware = "hgx-h100-8"`, "tp = 4"}},
		{"tp2 on one Spark", map[string]string{"nodes.0.instances.0.tp": "2"},
			http.StatusUnprocessableEntity, []string{"nodes[0].instances[0].tp", "needs a node of several devices"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := whatifFields(t, ts.doc(t, "/whatif"))
			for k, v := range tc.edit {
				if _, ok := f[k]; !ok {
					t.Fatalf("no field %q in the form", k)
				}
				f[k] = v
			}
			f["action"] = "download"
			body, ctype := multipartForm(t, f, "")
			resp, page := ts.do(t, "POST", "/whatif", body, ctype)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.code, page)
			}
			for _, w := range tc.wants {
				if !strings.Contains(html.UnescapeString(page), w) {
					t.Errorf("response lacks %q:\n%s", w, page)
				}
			}
		})
	}
}

// The placement lists an instance's layout where it has one.
func TestGroupViewsNameTheLayout(t *testing.T) {
	f := &scenario.File{Nodes: []scenario.NodeGroup{{Name: "g", Hardware: "hgx-h100-8", Count: 1, Instances: []scenario.Instance{
		{Model: "qwen3-8b", Quant: "fp8", TP: 4}, {Model: "qwen3-14b", Quant: "fp8", TP: 1, DP: 2}, {Model: "qwen3-0.6b", Quant: "bf16"}}}}}
	got := groupViews(f)[0].Instances
	want := []string{"qwen3-8b (fp8, tp 4)", "qwen3-14b (fp8, dp 2)", "qwen3-0.6b (bf16)"}
	if !slices.Equal(got, want) {
		t.Errorf("instances %q, want %q", got, want)
	}
}
