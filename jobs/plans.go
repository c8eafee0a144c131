package jobs

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/scenarios"
)

// Plan phases.
const (
	PhaseQueued      = "queued" // waiting for a free slot (the limit OpenPlans was given)
	PhaseSearching   = "searching"
	PhaseVerifying   = "verifying"
	PhaseDone        = "done"
	PhaseFailed      = "failed"      // an error, or a crash
	PhaseStopped     = "stopped"     // by the user
	PhaseInterrupted = "interrupted" // the server stopped while it searched or waited
)

// PlanOver reports whether a plan in phase has ended.
func PlanOver(phase string) bool {
	switch phase {
	case PhaseDone, PhaseFailed, PhaseStopped, PhaseInterrupted:
		return true
	}
	return false
}

// PlanState is a plan search, as its page and its websocket show it.
type PlanState struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Session  string    `json:"-"`
	Started  time.Time `json:"started"`
	Done     int       `json:"done"`
	Total    int       `json:"total"`
	Sims     int64     `json:"simulations"`
	RatePerS float64   `json:"rate_per_s"` // configurations settled per second
	LeftS    float64   `json:"left_s"`     // estimated seconds to go
	Phase    string    `json:"phase"`      // one of the Phase constants
	QueuePos int       `json:"queue_position,omitempty"`
	Error    string    `json:"error,omitempty"`
	Summary  string    `json:"summary,omitempty"`
	// Prior says which configurations rest on a prior profile
	// (PlanPriorNote); empty when none does.
	Prior string `json:"prior,omitempty"`
	// Verify is how far the winner's re-simulations are.
	Verify planner.Verifying `json:"verify"`
}

// savedPlan is a plan's state.json: its state and the session that
// started it, saved as it goes, so a restart shows how far it got.
type savedPlan struct {
	PlanState
	Session string `json:"session,omitempty"`
}

// Files of a plan directory under <data>/plans/<id>/.
const (
	planSourceFile = "plan.toml"
	planStateFile  = "state.json"
	planResultFile = "result.json"
)

// Plan is one planner search, live or finished.
type Plan struct {
	owner  *Plans
	mu     sync.Mutex
	state  PlanState
	source []byte
	result *planner.Result
	json   []byte

	plan   *planner.Plan // nil for a plan of an earlier life of the server
	ctx    context.Context
	cancel context.CancelFunc
	saved  time.Time
}

// State returns the plan's state.
func (j *Plan) State() PlanState {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state
}

// StateJSON is the plan's state as it is published.
func (j *Plan) StateJSON() []byte { return mustJSON(j.State()) }

// Finished returns the plan's result and its JSON, nil while it has none
// (it searches, or ended without one), with its state at that moment.
func (j *Plan) Finished() (*planner.Result, []byte, PlanState) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.result, j.json, j.state
}

// Update changes the plan's state and publishes it, saving it when save
// or a second has passed since the last save.
func (j *Plan) Update(f func(*PlanState), save bool) {
	j.mu.Lock()
	f(&j.state)
	j.mu.Unlock()
	j.owner.publish(j, save)
}

// SearchFunc searches a plan for a job, reporting progress through
// j.Update, and returns its result; Plans.Search is one.
type SearchFunc func(ctx context.Context, p *planner.Plan, j *Plan) (*planner.Result, error)

// Plans searches planner plans in the background, at most a limit at
// once (later ones queued, in order), publishing their progress and
// keeping each under the data dir.
type Plans struct {
	cfg Config
	log *log.Logger
	ctx context.Context // every plan's parent: ends at Close
	end context.CancelFunc

	mu    sync.Mutex
	plans map[string]*Plan
	q     slots[*Plan]
	wg    sync.WaitGroup

	// Search is the search: the planner's, then the winner's
	// verification (search). Tests replace it: a plan that panics.
	Search SearchFunc
}

// OpenPlans registers the plans kept under cfg.DataDir/plans ("" keeps
// none); at most maxAtOnce search at once (below 1: one). Their contexts
// derive from ctx.
func OpenPlans(ctx context.Context, cfg Config, maxAtOnce int) *Plans {
	s := &Plans{cfg: cfg, log: cfg.logger(), plans: map[string]*Plan{}}
	s.ctx, s.end = context.WithCancel(ctx)
	s.q = slots[*Plan]{max: max(1, maxAtOnce), place: func(j *Plan, pos int) {
		j.mu.Lock()
		defer j.mu.Unlock()
		j.state.QueuePos = pos
		if pos == 0 {
			j.state.Phase = PhaseSearching
		}
	}}
	s.Search = s.search
	s.load()
	return s
}

// Parse reads a plan against the catalog; errors name the file, line and
// field. The files a plan names (an empirical length file; a plan takes
// no trace) are read from the shipped scenarios' folder, as a run's are
// (Runs.Parse): the dashboard has no other.
func (s *Plans) Parse(name string, src []byte) (*planner.Plan, error) {
	return planner.Parse(name, src, s.cfg.Catalog, s.cfg.Profiles, scenarios.FS)
}

// Start searches p (parsed from src) for a browser session in the
// background, or queues it past the limit. It fails with ErrStopping
// once the plans are closing.
func (s *Plans) Start(session string, src []byte, p *planner.Plan) (PlanState, error) {
	now := time.Now()
	id := planID(now)
	ctx, cancel := context.WithCancel(s.ctx)
	j := &Plan{owner: s, source: src, plan: p, ctx: ctx, cancel: cancel,
		state: PlanState{ID: id, Name: p.Name, Session: session, Started: now, Phase: PhaseQueued}}
	if s.cfg.DataDir != "" {
		err := os.MkdirAll(s.dir(id), 0o755)
		if err == nil {
			err = atomicfile.WriteFile(filepath.Join(s.dir(id), planSourceFile), src, 0o644)
		}
		if err != nil {
			cancel()
			return PlanState{}, fmt.Errorf("plan %s: %w", id, err)
		}
	}
	if s.ctx.Err() != nil {
		cancel()
		return PlanState{}, ErrStopping
	}
	s.mu.Lock()
	s.plans[id] = j
	s.wg.Add(1) // done when the plan ends, queued or not
	s.mu.Unlock()
	start, err := s.q.enter(j)
	if err != nil {
		s.mu.Lock()
		delete(s.plans, id)
		s.mu.Unlock()
		s.wg.Done()
		cancel()
		return PlanState{}, err
	}
	s.publish(j, true)
	if start {
		go s.launch(j)
	}
	return j.State(), nil
}

func (s *Plans) dir(id string) string { return filepath.Join(s.cfg.DataDir, "plans", id) }

// Get returns a plan by ID.
func (s *Plans) Get(id string) (*Plan, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.plans[id]
	return j, ok
}

// List returns every plan's state, newest first.
func (s *Plans) List() []PlanState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PlanState
	for _, j := range s.plans {
		out = append(out, j.State())
	}
	slices.SortFunc(out, func(a, b PlanState) int { return b.Started.Compare(a.Started) })
	return out
}

// Session lists a browser session's plans, newest first.
func (s *Plans) Session(sess string) []PlanState {
	var out []PlanState
	for _, st := range s.List() {
		if st.Session == sess {
			out = append(out, st)
		}
	}
	return out
}

// save writes the plan's state.json.
func (s *Plans) save(st PlanState) error {
	if s.cfg.DataDir == "" {
		return nil
	}
	return atomicfile.WriteFile(filepath.Join(s.dir(st.ID), planStateFile), mustJSON(savedPlan{PlanState: st, Session: st.Session}), 0o644)
}

// publish sends the plan's state to its viewers, and saves it when save
// or a second has passed since the last save.
func (s *Plans) publish(j *Plan, save bool) {
	j.mu.Lock()
	st := j.state
	if save = save || time.Since(j.saved) >= time.Second; save {
		j.saved = time.Now()
	}
	j.mu.Unlock()
	s.cfg.Publisher.Publish(PlanTopic(st.ID), mustJSON(st))
	if save {
		if err := s.save(st); err != nil {
			s.log.Printf("plan %s: %v", st.ID, err)
		}
	}
}

// launch runs the plan in this goroutine (a panic fails the plan, not
// the server), then hands its slot to the next queued plan.
func (s *Plans) launch(j *Plan) {
	defer s.wg.Done()
	defer s.release()
	defer func() {
		if p := recover(); p != nil {
			s.log.Printf("plan %s panicked: %v\n%s", j.State().ID, p, debug.Stack())
			j.mu.Lock()
			j.state.Phase, j.state.LeftS = PhaseFailed, 0
			j.state.Error = fmt.Sprintf("the planner crashed (a bug; the server log has the stack): %v", p)
			j.mu.Unlock()
			s.publish(j, true)
		}
	}()
	res, err := s.Search(j.ctx, j.plan, j)
	s.finish(j, res, err)
}

// release frees a plan slot and starts the first queued plan in it.
func (s *Plans) release() {
	next, ok, moved := s.q.leave()
	if ok {
		s.publish(next, true)
		go s.launch(next)
	}
	for _, j := range moved {
		s.publish(j, true)
	}
}

// unqueue ends a queued plan in phase without searching; false if it
// was not queued.
func (s *Plans) unqueue(j *Plan, phase, why string) bool {
	ok, moved := s.q.remove(j)
	if !ok {
		return false
	}
	j.mu.Lock()
	j.state.Phase, j.state.QueuePos, j.state.Error = phase, 0, why
	j.mu.Unlock()
	j.cancel()
	s.publish(j, true)
	s.wg.Done()
	for _, q := range moved {
		s.publish(q, true)
	}
	return true
}

// Stop stops a searching plan (it ends stopped, with how far it got) or
// takes a queued one out of the queue.
func (s *Plans) Stop(id string) bool {
	j, ok := s.Get(id)
	if !ok {
		return false
	}
	if !s.unqueue(j, PhaseStopped, "stopped before it started") && j.cancel != nil {
		j.cancel()
	}
	return true
}

// Close stops the plans and waits for them to save: searching ones end
// interrupted with how far they got, queued ones before starting.
func (s *Plans) Close() {
	waiting := s.q.close()
	s.end()
	for _, j := range waiting {
		s.unqueue(j, PhaseInterrupted, "the server stopped before it started")
	}
	s.wg.Wait()
}
