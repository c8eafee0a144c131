package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/scenarios"
)

// whatif renders the form from a run's scenario, a shipped scenario, or
// the default.
func (s *Server) whatif(w http.ResponseWriter, r *http.Request) {
	from := r.URL.Query().Get("from")
	var data []byte
	if run, ok := s.Runs.Get(from); ok {
		data = run.Scenario()
	} else {
		if !slices.Contains(s.names, from) {
			from = scenarios.Default
		}
		data, _ = scenarios.FS.ReadFile(from)
	}
	f, _, err := scenario.Decode(from, data)
	form := whatifForm{From: from, TOML: string(data), History: s.Runs.Session(session(r)), Choices: s.choices(nil),
		Plans: shippedPlans(), PlanHistory: s.Plans.Session(session(r))}
	if err != nil {
		form.Error = err.Error()
	} else {
		form.Fields, form.Groups = formFields(f), groupViews(f)
	}
	render(w, r, http.StatusOK, whatifPage(form))
}

func (s *Server) whatifPost(w http.ResponseWriter, r *http.Request) {
	// guard has bounded and parsed the body already.
	if err := r.ParseMultipartForm(maxWhatIfBody); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		http.Error(w, "what-if form: "+err.Error(), http.StatusBadRequest)
		return
	}
	from := r.FormValue("from")
	name := "what-if.toml"
	data := []byte(r.FormValue("toml"))
	uploaded := false
	if file, hdr, err := r.FormFile("upload"); err == nil {
		b, err := io.ReadAll(file)
		file.Close()
		if err != nil {
			http.Error(w, "upload: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(bytes.TrimSpace(b)) > 0 {
			data, name, uploaded = b, hdr.Filename, true
		}
	}
	form := whatifForm{From: from, TOML: string(data), History: s.Runs.Session(session(r)), Choices: s.choices(nil),
		Plans: shippedPlans(), PlanHistory: s.Plans.Session(session(r))}
	fail := func(err error) {
		form.Error = err.Error()
		render(w, r, http.StatusUnprocessableEntity, whatifPage(form))
	}
	f, _, err := scenario.Decode(name, data)
	if err != nil {
		fail(err)
		return
	}
	form.Choices = s.choices(f)
	if !uploaded { // an uploaded file replaces the form; the fields describe the old one
		values, orig := map[string]string{}, map[string]string{}
		for _, b := range bindings(f) {
			values[b.name] = r.FormValue(b.name)
			orig[b.name] = r.FormValue("orig." + b.name)
		}
		if err := applyFields(f, values, orig); err != nil {
			form.Fields = formFields(f)
			fail(err)
			return
		}
		if data, err = f.Encode(); err != nil {
			fail(err)
			return
		}
	}
	if action := r.FormValue("action"); strings.Contains(action, ":") && !uploaded {
		// A placement edit: show the changed scenario, run nothing yet.
		if err := place(f, action); err != nil {
			form.Fields, form.Groups = formFields(f), groupViews(f)
			fail(err)
			return
		}
		if data, err = f.Encode(); err != nil {
			fail(err)
			return
		}
		form.TOML, form.Fields, form.Groups = string(data), formFields(f), groupViews(f)
		if _, err := s.Runs.Parse(name, data); err != nil {
			form.Error = err.Error()
		}
		render(w, r, http.StatusOK, whatifPage(form))
		return
	}
	form.TOML, form.Fields, form.Groups = string(data), formFields(f), groupViews(f)
	if _, err := s.Runs.Parse(name, data); err != nil {
		fail(err)
		return
	}
	if r.FormValue("action") == "download" {
		attachment(w, jobs.Slug(f.Name)+".toml", "application/toml")
		w.Write(data)
		return
	}
	speed, err := speedOf(r)
	if err != nil {
		fail(err)
		return
	}
	run, err := s.Runs.StartIn(session(r), name, data, speed)
	if err != nil {
		fail(err)
		return
	}
	http.Redirect(w, r, "/runs/"+run.State().ID, http.StatusSeeOther)
}

// choices lists the catalog's hardware and node types, weight formats, the engines,
// and the served models of f (or of the default scenario).
func (s *Server) choices(f *scenario.File) choices {
	var c choices
	for n := range s.Catalog.Hardware {
		c.Hardware = append(c.Hardware, n)
	}
	for n := range s.Catalog.NodeTypes {
		c.Hardware = append(c.Hardware, n)
	}
	for n := range s.Catalog.Formats {
		c.Quants = append(c.Quants, n)
	}
	for n := range s.Catalog.Models {
		c.Drafts = append(c.Drafts, n)
	}
	c.Engines, c.Speculative = slices.Clone(perf.Engines), slices.Clone(specMethods)
	if f == nil {
		data, _ := scenarios.FS.ReadFile(scenarios.Default)
		f, _, _ = scenario.Decode(scenarios.Default, data)
	}
	if f != nil {
		for n := range f.Models {
			c.Models = append(c.Models, n)
		}
	}
	slices.Sort(c.Hardware)
	slices.Sort(c.Quants)
	slices.Sort(c.Models)
	slices.Sort(c.Drafts)
	return c
}
