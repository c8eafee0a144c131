package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// FuzzWhatIf posts the what-if form with up to two fields set to fuzzed
// values and a fuzzed action: the server never panics and never answers
// 500; a refused scenario is a 4xx whose page names the problem. A run it
// starts is stopped at once and must not have crashed.
func FuzzWhatIf(f *testing.F) {
	s, err := newServer(testOptions{DataDir: f.TempDir(), Catalog: cat, Profiles: profiles})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	serve := func(req *http.Request) *httptest.ResponseRecorder {
		req.Host = "127.0.0.1:8080"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w
	}
	page := serve(httptest.NewRequest("GET", "/whatif", nil))
	d, err := goquery.NewDocumentFromReader(page.Body)
	if err != nil {
		f.Fatal(err)
	}
	base := url.Values{}
	d.Find("form[data-testid=whatif-form] input").Each(func(_ int, sel *goquery.Selection) {
		if n, ok := sel.Attr("name"); ok && n != "upload" {
			v, _ := sel.Attr("value")
			base.Set(n, v)
		}
	})
	base.Set("toml", byTestID(d, "toml").Text())
	var keys []string
	for k := range base {
		if !strings.HasPrefix(k, "orig.") && k != "from" && k != "toml" {
			keys = append(keys, k)
		}
	}
	keys = append(keys, "speed")
	slices.Sort(keys)
	if len(keys) < 10 {
		f.Fatalf("the what-if form has %d fields", len(keys))
	}
	key := func(want string) uint8 { return uint8(slices.Index(keys, want)) }

	for _, v := range []string{"nan", "NaN", "inf", "+Inf", "-inf", "1e308", "-1e308", "-1", "0", "1e12", "4.9e-324", "9223372036854775807", "1000000000", "", "fast"} {
		for _, k := range []string{"duration_s", "models.qwen3-8b.workload.arrival.rate", "nodes.0.count", "nodes.0.power_cap_w", "nodes.0.instances.0.max_seqs", "site.pue", "speed"} {
			f.Add(key(k), v, key("name"), "fuzz", "download")
		}
	}
	f.Add(key("nodes.0.count"), "1000000", key("duration_s"), "1e9", "run")
	f.Add(key("models.qwen3-8b.workload.arrival.rate"), "1e15", key("speed"), "0", "run")
	f.Add(key("nodes.0.count"), "3", key("speed"), "inf", "run")
	f.Add(key("nodes.0.count"), "2", key("duration_s"), "600", "run")
	f.Add(key("name"), "x", key("speed"), "0", "run")
	f.Add(key("duration_s"), "1e-300", key("speed"), "1e308", "run")
	f.Add(key("nodes.0.count"), "1", key("speed"), "0", "add-instance:0")
	f.Add(key("nodes.0.count"), "1", key("speed"), "0", "remove-instance:0:9999999999")
	f.Add(key("nodes.0.hardware"), "l40s", key("nodes.0.engine"), "vllm", "copy-group:0")
	const spec = "nodes.0.instances.0.speculative."
	for _, m := range []string{"draft", "eagle", "mtp", "off", "medusa", ""} {
		f.Add(key(spec+"method"), m, key(spec+"proposal_tokens"), "4", "run")
		f.Add(key(spec+"method"), m, key(spec+"acceptance_rate"), "NaN", "download")
	}
	f.Add(key(spec+"method"), "draft", key(spec+"draft_model"), "qwen3-0.6b", "run")
	f.Add(key(spec+"method"), "draft", key(spec+"draft_model"), "qwen3-235b-a22b", "run")
	f.Add(key(spec+"proposal_tokens"), "16", key(spec+"acceptance_rate"), "0.99", "add-instance:0")

	f.Fuzz(func(t *testing.T, k1 uint8, v1 string, k2 uint8, v2 string, action string) {
		form := url.Values{}
		for k, vs := range base {
			form[k] = slices.Clone(vs)
		}
		form.Set(keys[int(k1)%len(keys)], v1)
		form.Set(keys[int(k2)%len(keys)], v2)
		if form.Get("speed") == "" {
			form.Set("speed", "0")
		}
		form.Set("action", action)
		req := httptest.NewRequest("POST", "/whatif", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := serve(req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		case http.StatusUnprocessableEntity:
			d, err := goquery.NewDocumentFromReader(w.Body)
			if err != nil || strings.TrimSpace(byTestID(d, "whatif-error").Text()) == "" {
				t.Fatalf("a refused what-if shows no error")
			}
		case http.StatusSeeOther:
			id := strings.TrimPrefix(w.Header().Get("Location"), "/runs/")
			run, ok := s.Runs.Get(id)
			if !ok {
				t.Fatalf("redirected to %q, no such run", id)
			}
			s.Runs.Stop(id)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
			defer cancel()
			if err := run.Wait(ctx); err != nil {
				t.Fatalf("the run did not stop within a minute of being asked: %v", err)
			}
			if st := run.State(); strings.Contains(st.Error, "crashed") {
				t.Fatalf("the simulation crashed: %s", st.Error)
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}
