// Package web is fleettwin's dashboard: runs streamed live over
// websockets, what-if editing of scenarios, side-by-side comparison,
// calibration profiles and the catalog. Pages are templ components; charts
// are drawn in the browser by uPlot (vendored, embedded) and exported by
// gonum/plot.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/a-h/templ"

	"github.com/fleettwin/fleettwin/calibrate"
	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/scenarios"
)

//go:embed static
var static embed.FS

// Options configure a dashboard server.
type Options struct {
	DataDir  string // runs are kept under DataDir/runs
	Token    string // if set, every request must carry it (required off loopback)
	Catalog  *catalog.Catalog
	Profiles perf.ProfileSet
	// CalibrationDirs are folders of `fleettwin calibrate run` run
	// directories, shown live next to their twin.
	CalibrationDirs []string
	// CalibrationPlans is the folder of calibration plans the dashboard
	// may start by name (the only files of the server's it reads on a
	// request's behalf); "" offers pasted plans only.
	CalibrationPlans string
	// Ollama serves the url = "local" models of calibrations started
	// from the dashboard (scripts/build-ollama.sh builds one).
	Ollama string
	// MaxRuns is how many simulations run at once (0: DefaultMaxRuns),
	// MaxPlans how many plans search at once (0: 1); more wait queued.
	MaxRuns, MaxPlans int
	// Logger gets what the server does not show in a page: entries of the
	// data dir it skipped, the stack of a job that panicked (nil: the
	// standard logger).
	Logger *log.Logger
}

// Server is the dashboard.
type Server struct {
	hub   *Hub
	runs  *Runs
	opt   Options
	mux   *http.ServeMux
	names []string // shipped scenarios

	ctx    context.Context // ends when the server closes
	cancel context.CancelFunc
	calMu  sync.Mutex
	cal    map[string]*calWatcher
	jobsMu sync.Mutex // not calMu: a watcher's first update, under calMu, reads the jobs
	jobs   map[string]*calJob
	jobsWG sync.WaitGroup

	plansMu      sync.Mutex
	plans        map[string]*planJob
	planQueue    []*planJob // waiting for a slot, in order
	plansRunning int

	// The jobs' bodies, replaced by tests (a panicking job).
	planRun func(context.Context, *planner.Plan, *planJob)
	calRun  func(ctx context.Context, plan *calibrate.Plan, dir string, local bool, log io.Writer) error

	cop *http.CrossOriginProtection // refuses unsafe methods sent cross-site
}

// New opens the data directory and builds the routes.
func New(opt Options) (*Server, error) {
	hub := NewHub()
	if opt.Logger == nil {
		opt.Logger = log.Default()
	}
	if opt.MaxPlans < 1 {
		opt.MaxPlans = 1
	}
	runs, err := OpenRuns(opt.DataDir, hub, opt.Catalog, opt.Profiles, opt.Logger)
	if err != nil {
		return nil, err
	}
	runs.SetMaxRunning(opt.MaxRuns)
	s := &Server{hub: hub, runs: runs, opt: opt, mux: http.NewServeMux(), cal: map[string]*calWatcher{}, jobs: map[string]*calJob{}, plans: map[string]*planJob{},
		cop: http.NewCrossOriginProtection()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.planRun, s.calRun = s.runPlan, s.calibrate
	s.loadPlans()
	entries, _ := fs.ReadDir(scenarios.FS, ".")
	for _, e := range entries {
		s.names = append(s.names, e.Name())
	}
	slices.SortFunc(s.names, func(a, b string) int { // the default first
		return cmpBool(b == scenarios.Default, a == scenarios.Default)*2 + strings.Compare(a, b)
	})
	sub, _ := fs.Sub(static, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(sub)))
	s.mux.HandleFunc("GET /{$}", s.home)
	s.mux.HandleFunc("POST /runs", s.startShipped)
	s.mux.HandleFunc("GET /api/runs", s.apiRuns)
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
	s.mux.HandleFunc("POST /plans", s.planStart)
	s.mux.HandleFunc("POST /plans/{id}/stop", s.planStop)
	s.mux.HandleFunc("GET /shipped-plans/{name}", s.shippedPlan)
	s.mux.HandleFunc("GET /plans/{id}", s.planPage)
	s.mux.HandleFunc("GET /plans/{id}/state.json", s.planState)
	s.mux.HandleFunc("GET /plans/{id}/result.json", s.planResult)
	s.mux.HandleFunc("GET /plans/{id}/report.html", s.planReport)
	s.mux.HandleFunc("GET /plans/{id}/chart/{file}", s.planChart)
	s.mux.HandleFunc("GET /ws/plans/{id}", s.planWS)
	return s, nil
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

// Runs gives access to the server's runs (tests, the CLI).
func (s *Server) Runs() *Runs { return s.runs }

// Close stops the runs, plans and calibrations in progress and saves what
// they have; they, and the queued ones, are kept as interrupted.
func (s *Server) Close() {
	s.cancel()
	s.runs.Close()
	s.interruptQueuedPlans()
	s.jobsWG.Wait() // plans save their state; calibrations stop their servers and keep their records
}

// ServeHTTP checks the Host, the origin, the body's size and the token,
// then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w, r) {
		return
	}
	if s.opt.Token != "" && !s.authorized(w, r) {
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
	ok := func(v string) bool { return subtle.ConstantTimeCompare([]byte(v), []byte(s.opt.Token)) == 1 }
	if c, err := r.Cookie(tokenCookie); err == nil && ok(c.Value) {
		return true
	}
	if h := r.Header.Get("Authorization"); ok(strings.TrimPrefix(h, "Bearer ")) {
		return true
	}
	if ok(r.URL.Query().Get("token")) {
		http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: s.opt.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
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
	render(w, r, http.StatusOK, runsPage(s.runs.List(), s.names))
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.runs.List())
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
	cat := s.opt.Catalog
	var models, hw []string
	for n := range cat.Models {
		models = append(models, n)
	}
	for n := range cat.Hardware {
		hw = append(hw, n)
	}
	slices.SortFunc(models, func(a, b string) int { return int(cat.Models[a].Params() - cat.Models[b].Params()) })
	slices.Sort(hw)
	render(w, r, http.StatusOK, catalogPage(cat, models, hw))
}

func (s *Server) sortedProfiles() []perf.Profile {
	var ps []perf.Profile
	for _, p := range s.opt.Profiles {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b perf.Profile) int {
		return strings.Compare(a.Hardware+"."+a.Engine, b.Hardware+"."+b.Engine)
	})
	return ps
}

func (s *Server) calibration(w http.ResponseWriter, r *http.Request) {
	render(w, r, http.StatusOK, calibrationPage(s.sortedProfiles(), s.sortedCalibrationRuns(), s.calibrationPlans()))
}

func (s *Server) calibrationPlot(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	ext := path.Ext(file)
	prof, err := s.opt.Profiles.Get(r.PathValue("hw"), strings.TrimSuffix(file, ext))
	if err != nil || (ext != ".svg" && ext != ".png") {
		http.Error(w, fmt.Sprintf("no profile plot %s/%s", r.PathValue("hw"), file), http.StatusNotFound)
		return
	}
	serveImage(w, ext[1:], http.StatusNotFound, func(out io.Writer) error { return writeProfileScatter(out, prof, ext[1:]) })
}

// Wait blocks until every run started so far has ended (tests).
func (s *Server) Wait(ctx context.Context) error {
	for _, st := range s.runs.List() {
		if r, ok := s.runs.Get(st.ID); ok {
			if err := r.Wait(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}
