package calibrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fleettwin/fleettwin/calibrate/openai"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/scenario"
)

// Files of a run directory.
const (
	PlanFile      = "plan.toml"
	StateFile     = "run.json"       // progress, rewritten atomically
	RequestsFile  = "requests.jsonl" // one RequestRecord per line, appended
	TelemetryFile = "telemetry.jsonl"
	ServersFile   = "servers.json" // what the servers report of their settings
	// ServerMetricsFile holds the engines' own gauges (running, waiting,
	// KV-cache use) scraped from their Prometheus endpoints, where a
	// plan model names one.
	ServerMetricsFile = "server_metrics.jsonl"
	// LockFile is flock'ed by the process writing the run; it holds
	// that process's pid.
	LockFile = "run.lock"
)

// RequestRecord is one request as the run directory stores it.
type RequestRecord struct {
	Experiment string `json:"experiment"`
	Attempt    int    `json:"attempt"`
	Model      string `json:"model"`
	Seq        int    `json:"seq"`
	// TargetInput is the prompt length asked for; the server's count is
	// PromptTokens.
	TargetInput int `json:"target_input"`
	MaxTokens   int `json:"max_tokens"`
	openai.Record
}

// State is run.json: where a run stands.
type State struct {
	ID       string            `json:"id"`
	Plan     string            `json:"plan"`
	Hardware string            `json:"hardware"`
	Engine   string            `json:"engine"`
	Created  time.Time         `json:"created"`
	Updated  time.Time         `json:"updated"`
	Versions map[string]string `json:"versions,omitempty"`
	// Sharing is the plan's modes as resolved when the run started (a
	// plan that lists none takes the hardware's default, which a later
	// catalog could change): the run's experiments keep them.
	Sharing []scenario.Sharing `json:"sharing,omitempty"`
	// Done lists completed experiments; Attempts counts starts of each.
	Done     []string       `json:"done"`
	Attempts map[string]int `json:"attempts"`
	Finished bool           `json:"finished"`
	Note     string         `json:"note,omitempty"`
}

// ReadState reads run.json.
func ReadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", dir, err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("run %s: %s: %w", dir, StateFile, err)
	}
	return &s, nil
}

func (s *State) write(dir string) error {
	s.Updated = time.Now().UTC()
	data, _ := json.MarshalIndent(s, "", "  ")
	return atomicfile.WriteFile(filepath.Join(dir, StateFile), append(data, '\n'), 0o644)
}

// keepModes gives p the modes the run started with, where the plan lists
// none of its own.
func (s *State) keepModes(p *Plan) {
	if len(s.Sharing) > 0 && len(p.Sharing) == 0 {
		p.modes = s.Sharing
	}
}

func (s *State) done(id string) bool {
	for _, d := range s.Done {
		if d == id {
			return true
		}
	}
	return false
}

// Start creates a run directory under root named after the time and the
// plan (a second run started in the same second gets a "-2" suffix),
// writes the plan into it, and returns its path.
func Start(root string, p *Plan, planData []byte, versions map[string]string) (string, error) {
	if msg := CheckRunName(p.Name, MaxNameLen); msg != "" {
		return "", fmt.Errorf("start run: plan name %s", msg)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("start run: %w", err)
	}
	base := fmt.Sprintf("%s-%s", time.Now().UTC().Format("20060102-150405"), p.Name)
	id, dir := "", ""
	for n := 1; ; n++ {
		id = base
		if n > 1 {
			id = fmt.Sprintf("%s-%d", base, n)
		}
		var err error
		if dir, err = RunDir(root, id); err != nil {
			return "", err
		}
		// Mkdir, not MkdirAll: a folder another run made is never shared.
		err = os.Mkdir(dir, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || n == 100 {
			return "", fmt.Errorf("start run: %w", err)
		}
	}
	// The plan's own catalog entries first: a folder with the plan
	// always has what the plan names.
	if p.CatalogFile != "" && p.catalogData != nil {
		if err := atomicfile.WriteFile(filepath.Join(dir, p.CatalogFile), p.catalogData, 0o644); err != nil {
			return "", err
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, PlanFile), planData, 0o644); err != nil {
		return "", err
	}
	st := &State{ID: id, Plan: p.Name, Hardware: p.Hardware, Engine: p.Engine, Created: time.Now().UTC(),
		Versions: versions, Attempts: map[string]int{}, Sharing: p.Modes()}
	return dir, st.write(dir)
}

// maxRunIDLen bounds a run ID: the time stamp, the name and a suffix.
const maxRunIDLen = 128

// RunDir joins the runs root and a run ID, refusing an ID that is not a
// plain folder name (CheckRunName) or a result outside root.
func RunDir(root, id string) (string, error) {
	if msg := CheckRunName(id, maxRunIDLen); msg != "" {
		return "", fmt.Errorf("run id %s", msg)
	}
	dir := filepath.Join(root, id)
	if rel, err := filepath.Rel(root, dir); err != nil || rel != id {
		return "", fmt.Errorf("run id %q: not a folder directly under %s", id, root)
	}
	return dir, nil
}

// Lock takes the run folder's lock ahead of Run, so a caller can fail
// before it starts servers; Run takes it itself otherwise. Run releases
// it when it returns. A folder another process (or Runner) is writing is
// refused at once, with that process's pid.
func (r *Runner) Lock() error {
	if r.release != nil {
		return nil
	}
	release, err := lockDir(r.Dir)
	if err != nil {
		return err
	}
	r.release = release
	return nil
}

// Unlock releases the lock Lock took (Run does, when it returns).
func (r *Runner) Unlock() {
	if r.release != nil {
		r.release()
		r.release = nil
	}
}

// repairFiles makes the last line of each append-only file of the run
// whole before the run appends to it (see repairTail), and says what it
// did.
func (r *Runner) repairFiles() error {
	for _, f := range []struct {
		name  string
		valid func([]byte) bool
	}{{RequestsFile, validRequest}, {TelemetryFile, validObject}, {ServerMetricsFile, validObject}} {
		cut, completed, err := repairTail(filepath.Join(r.Dir, f.name), f.valid)
		if err != nil {
			return fmt.Errorf("run %s: repairing the end of %s: %w", r.Dir, f.name, err)
		}
		if cut > 0 {
			r.logf("calibrate: %s ended in a torn line (a write cut off by a crash or a full disk): dropped its %d bytes before appending; they are kept in %s", f.name, cut, f.name+TornSuffix)
		}
		if completed {
			r.logf("calibrate: %s: the last record lacked its newline; added it before appending", f.name)
		}
	}
	return nil
}
