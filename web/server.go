// Package web is fleettwin's dashboard: runs streamed live over
// websockets, what-if editing of scenarios, side-by-side comparison,
// calibration profiles and the catalog. It serves HTTP only: the runs,
// plans and calibrations it shows are package jobs', and it reaches the
// simulator and the calibrator through them. Pages are templ components; charts
// are drawn in the browser by uPlot (vendored, embedded) and exported by
// gonum/plot.
package web

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/a-h/templ"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenarios"
)

//go:embed static
var static embed.FS

// Server is the dashboard: an http.Handler over the jobs it is given.
// Like benbjohnson/wtf's http.Server it takes its services as fields, set
// by whoever wires it (cmd/fleettwin serve) before it serves; it starts
// no work of its own.
type Server struct {
	// Hub streams the jobs' states to browsers; the jobs publish to it
	// (it is their jobs.Publisher).
	Hub          *Hub
	Runs         *jobs.Runs
	Plans        *jobs.Plans
	Calibrations *jobs.Calibrations
	Catalog      *catalog.Catalog
	Profiles     perf.ProfileSet
	// Token, if set, must come with every request (required off loopback).
	Token string
	// CalibrationPlans is the folder of calibration plans the dashboard
	// may start by name (the only files of the server's it reads on a
	// request's behalf); "" offers pasted plans only.
	CalibrationPlans string
	// Featured is the run the runs page opens with, its verdict first
	// (serve --start's, set by StartWithBaseline before serving).
	Featured string

	mux   *http.ServeMux
	names []string                    // shipped scenarios
	cop   *http.CrossOriginProtection // refuses unsafe methods sent cross-site
}

// NewServer builds the routes and a hub; set the services before serving.
func NewServer() *Server {
	s := &Server{Hub: NewHub(), mux: http.NewServeMux(), cop: http.NewCrossOriginProtection()}
	entries, _ := fs.ReadDir(scenarios.FS, ".")
	for _, e := range entries { // the scenarios, not the traces/ they name
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".toml") {
			s.names = append(s.names, e.Name())
		}
	}
	slices.SortFunc(s.names, func(a, b string) int { // the default first
		return cmpBool(b == scenarios.Default, a == scenarios.Default)*2 + strings.Compare(a, b)
	})
	sub, _ := fs.Sub(static, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(sub)))
	s.mux.HandleFunc("GET /{$}", s.home)
	s.mux.HandleFunc("POST /runs", s.startShipped)
	s.mux.HandleFunc("GET /api/runs", s.apiRuns)
	s.mux.HandleFunc("GET /api/runs/rows", s.apiRunRows)
	s.mux.HandleFunc("GET /runs/{id}", s.runPage)
	s.mux.HandleFunc("POST /runs/{id}/stop", s.stop)
	s.mux.HandleFunc("GET /runs/{id}/scenario.toml", s.scenarioFile)
	s.mux.HandleFunc("GET /runs/{id}/result.json", s.resultFile)
	s.mux.HandleFunc("GET /runs/{id}/state.json", s.stateFile)
	s.mux.HandleFunc("GET /runs/{id}/series.csv", s.seriesCSV)
	s.mux.HandleFunc("GET /runs/{id}/chart/{file}", s.chart)
	s.mux.HandleFunc("GET /ws/runs/{id}", s.ws)
	s.mux.HandleFunc("GET /whatif", s.whatif)
	s.mux.HandleFunc("POST /whatif", s.whatifPost)
	s.mux.HandleFunc("GET /compare", s.compare)
	s.mux.HandleFunc("GET /catalog", s.catalog)
	s.mux.HandleFunc("GET /calibration", s.calibration)
	s.mux.HandleFunc("GET /calibration/{hw}/{file}", s.calibrationPlot)
	s.mux.HandleFunc("GET /calibration/runs/{id}", s.calibrationRun)
	s.mux.HandleFunc("GET /calibration/runs/{id}/state.json", s.calibrationState)
	s.mux.HandleFunc("GET /calibration/runs/{id}/chart/{file}", s.calibrationChart)
	s.mux.HandleFunc("GET /ws/calibration/{id}", s.calibrationWS)
	s.mux.HandleFunc("POST /calibration/start", s.calibrationStart)
	s.mux.HandleFunc("POST /calibration/runs/{id}/stop", s.calibrationStop)
	s.mux.HandleFunc("GET /plans", s.plansList)
	s.mux.HandleFunc("POST /plans", s.planStart)
	s.mux.HandleFunc("POST /plans/{id}/stop", s.planStop)
	s.mux.HandleFunc("GET /shipped-plans/{name}", s.shippedPlan)
	s.mux.HandleFunc("GET /plans/{id}", s.planPage)
	s.mux.HandleFunc("GET /plans/{id}/state.json", s.planState)
	s.mux.HandleFunc("GET /plans/{id}/result.json", s.planResult)
	s.mux.HandleFunc("GET /plans/{id}/report.html", s.planReport)
	s.mux.HandleFunc("GET /plans/{id}/chart/{file}", s.planChart)
	s.mux.HandleFunc("GET /ws/plans/{id}", s.planWS)
	return s
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// ServeHTTP checks the Host, the origin, the body's size and the token,
// then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w, r) {
		return
	}
	if s.Token != "" && !s.authorized(w, r) {
		http.Error(w, "this dashboard needs its token: open the URL fleettwin printed (…?token=…)", http.StatusUnauthorized)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if c, err := r.Cookie(sessionCookie); err != nil || !validSession(c.Value) {
		// A what-if session: the runs this browser starts form its history.
		b := make([]byte, 16)
		rand.Read(b)
		c := &http.Cookie{Name: sessionCookie, Value: hex.EncodeToString(b), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
		http.SetCookie(w, c)
		r.AddCookie(c)
	}
	s.mux.ServeHTTP(w, r)
}

const sessionCookie = "fleettwin_session"

func validSession(v string) bool {
	_, err := hex.DecodeString(v)
	return err == nil && len(v) == 32
}

// session is the request's what-if session.
func session(r *http.Request) string {
	if c, err := r.Cookie(sessionCookie); err == nil && validSession(c.Value) {
		return c.Value
	}
	return ""
}

const tokenCookie = "fleettwin_token"

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	ok := func(v string) bool { return subtle.ConstantTimeCompare([]byte(v), []byte(s.Token)) == 1 }
	if c, err := r.Cookie(tokenCookie); err == nil && ok(c.Value) {
		return true
	}
	if h := r.Header.Get("Authorization"); ok(strings.TrimPrefix(h, "Bearer ")) {
		return true
	}
	if ok(r.URL.Query().Get("token")) {
		http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: s.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		return true
	}
	return false
}

func render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var b bytes.Buffer
	if err := c.Render(r.Context(), &b); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	var featured *verdictView
	if run, ok := s.Runs.Get(s.Featured); ok && s.Featured != "" {
		v := s.verdictOf(run)
		featured = &v
	}
	render(w, r, http.StatusOK, runsPage(s.runRows(), s.names, featured))
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.Runs.List())
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := jsonfmt.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	cat := s.Catalog
	var models, hw []string
	for n := range cat.Models {
		models = append(models, n)
	}
	for n := range cat.Hardware {
		hw = append(hw, n)
	}
	slices.SortFunc(models, func(a, b string) int { return int(cat.Models[a].Params() - cat.Models[b].Params()) })
	slices.Sort(hw)
	var nodeTypes []string
	for n := range cat.NodeTypes {
		nodeTypes = append(nodeTypes, n)
	}
	slices.Sort(nodeTypes)
	render(w, r, http.StatusOK, catalogPage(cat, models, hw, nodeTypes))
}

func (s *Server) sortedProfiles() []perf.Profile {
	var ps []perf.Profile
	for _, p := range s.Profiles {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b perf.Profile) int {
		return strings.Compare(a.Hardware+"."+a.Engine, b.Hardware+"."+b.Engine)
	})
	return ps
}

func (s *Server) calibration(w http.ResponseWriter, r *http.Request) {
	render(w, r, http.StatusOK, calibrationPage(s.sortedProfiles(), s.Calibrations.IDs(), s.calibrationPlans(), ""))
}

func (s *Server) calibrationPlot(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	ext := path.Ext(file)
	prof, err := s.Profiles.Get(r.PathValue("hw"), strings.TrimSuffix(file, ext))
	if err != nil || (ext != ".svg" && ext != ".png") {
		http.Error(w, fmt.Sprintf("no profile plot %s/%s", r.PathValue("hw"), file), http.StatusNotFound)
		return
	}
	serveImage(w, ext[1:], http.StatusNotFound, func(out io.Writer) error { return writeProfileScatter(out, prof, ext[1:]) })
}
