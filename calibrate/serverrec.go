package calibrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/scenario"
)

// ServerRecords is servers.json: every server the run used, one record per
// start (a resumed run adds records; the first stay), and every MPS
// daemon it ran. A fit reads what the servers were from here, and a
// person what they were told.
type ServerRecords struct {
	Servers []ServerRecord `json:"servers"`
	MPS     []MPSRecord    `json:"mps,omitempty"`
}

// ServerRecord is one server as the run found it.
type ServerRecord struct {
	Name    string           `json:"name"`
	Sharing scenario.Sharing `json:"sharing,omitempty"`
	Engine  string           `json:"engine"`
	// Managed: the run started and stopped it ([[servers]]); otherwise it
	// was up already at URL.
	Managed bool     `json:"managed"`
	URL     string   `json:"url"` // root, without /v1
	Models  []string `json:"models"`
	PID     int      `json:"pid,omitempty"`
	// Command and Env are what the run started it with: Env holds only
	// what the run set (the plan's env and its own), not what it inherited.
	Command            []string          `json:"command,omitempty"`
	Env                map[string]string `json:"env,omitempty"`
	MemoryFraction     float64           `json:"memory_fraction,omitempty"`
	MPSActiveThreadPct float64           `json:"mps_active_thread_pct,omitempty"`
	Log                string            `json:"log,omitempty"` // relative to the run folder
	Started            time.Time         `json:"started"`
	ReadyS             float64           `json:"ready_s,omitempty"` // from start to healthy
	Stopped            *time.Time        `json:"stopped,omitempty"`
	Exit               string            `json:"exit,omitempty"`
	// Died: it exited on its own (at start or mid-run), before the run
	// stopped it.
	Died    bool    `json:"died,omitempty"`
	Version string  `json:"version,omitempty"`
	KV      *KVInfo `json:"kv,omitempty"`
	// Info holds the server's own answers the record was read from
	// (llama.cpp /props, SGLang /get_server_info, Ollama /api/show).
	Info        map[string]any `json:"info,omitempty"`
	ProbeErrors []string       `json:"probe_errors,omitempty"`
}

// KVInfo is the KV cache a server says it has, where it says.
type KVInfo struct {
	Blocks      int `json:"blocks,omitempty"`       // vLLM num_gpu_blocks
	BlockTokens int `json:"block_tokens,omitempty"` // vLLM block_size, SGLang page_size
	// Tokens is the whole cache in tokens: blocks × block tokens, SGLang
	// max_total_num_tokens, llama.cpp and Ollama slots × slot context.
	Tokens  int    `json:"tokens,omitempty"`
	Slots   int    `json:"slots,omitempty"`    // llama.cpp total_slots, Ollama OLLAMA_NUM_PARALLEL
	SlotCtx int    `json:"slot_ctx,omitempty"` // llama.cpp n_ctx per slot, Ollama num_ctx
	Source  string `json:"source"`             // where the numbers came from
}

// MPSRecord is one MPS control daemon the run started.
type MPSRecord struct {
	Sharing   scenario.Sharing `json:"sharing"`
	Control   string           `json:"control"`
	PipeDir   string           `json:"pipe_dir"`
	LogDir    string           `json:"log_dir"`
	Started   time.Time        `json:"started"`
	Stopped   *time.Time       `json:"stopped,omitempty"`
	QuitError string           `json:"quit_error,omitempty"`
}

// ReadServers reads servers.json; its error wraps fs.ErrNotExist for a run
// without one. A file of the format before ServerRecords (one Ollama:
// engine, version, pid, models) reads as one record.
func ReadServers(dir string) (*ServerRecords, error) {
	path := filepath.Join(dir, ServersFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, ok := probe["servers"]; !ok {
		var old struct {
			Engine  string         `json:"engine"`
			Version string         `json:"version"`
			PID     int            `json:"pid"`
			Models  map[string]any `json:"models"`
		}
		if err := json.Unmarshal(data, &old); err != nil || old.Engine == "" {
			return nil, fmt.Errorf("%s: neither a servers list nor a single server's record", path)
		}
		return &ServerRecords{Servers: []ServerRecord{{Name: old.Engine, Engine: old.Engine, Version: old.Version, PID: old.PID,
			Models: sortedKeys(old.Models), Info: map[string]any{"models": old.Models}}}}, nil
	}
	var recs ServerRecords
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &recs, nil
}

// serverBook keeps servers.json up to date as servers start and stop:
// each change rewrites it whole, atomically.
type serverBook struct {
	mu   sync.Mutex
	dir  string
	recs ServerRecords
}

// openBook reads the run's servers.json, if any, to append to it. A file
// that cannot be read is kept aside as servers.json.unreadable, not lost.
func openBook(dir string) (*serverBook, error) {
	b := &serverBook{dir: dir}
	recs, err := ReadServers(dir)
	switch {
	case err == nil:
		b.recs = *recs
	case errors.Is(err, fs.ErrNotExist):
	default:
		path := filepath.Join(dir, ServersFile)
		if rerr := os.Rename(path, path+".unreadable"); rerr != nil {
			return nil, fmt.Errorf("%w (and it could not be moved aside: %v)", err, rerr)
		}
	}
	return b, nil
}

func (b *serverBook) write() error {
	data, _ := json.MarshalIndent(b.recs, "", "  ")
	return atomicfile.WriteFile(filepath.Join(b.dir, ServersFile), append(data, '\n'), 0o644)
}

// add appends a record and returns its index for update.
func (b *serverBook) add(rec ServerRecord) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recs.Servers = append(b.recs.Servers, rec)
	return len(b.recs.Servers) - 1, b.write()
}

func (b *serverBook) update(i int, f func(*ServerRecord)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(&b.recs.Servers[i])
	return b.write()
}

func (b *serverBook) addMPS(rec MPSRecord) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recs.MPS = append(b.recs.MPS, rec)
	return len(b.recs.MPS) - 1, b.write()
}

func (b *serverBook) updateMPS(i int, f func(*MPSRecord)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(&b.recs.MPS[i])
	return b.write()
}

// has reports whether an unmanaged server at root is recorded already.
func (b *serverBook) has(root string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.ContainsFunc(b.recs.Servers, func(r ServerRecord) bool { return !r.Managed && r.URL == root })
}

// Summary is one line per server and sharing mode (its latest start: a
// resumed run started it again), for `calibrate` to print.
func (s *ServerRecords) Summary() []string {
	type key struct {
		name string
		mode scenario.Sharing
	}
	latest := map[key]int{}
	var order []key
	for i, r := range s.Servers {
		k := key{r.Name, r.Sharing}
		if _, ok := latest[k]; !ok {
			order = append(order, k)
		}
		latest[k] = i
	}
	var out []string
	for _, k := range order {
		r := s.Servers[latest[k]]
		var b strings.Builder
		fmt.Fprintf(&b, "server %s", r.Name)
		if r.Sharing != "" {
			fmt.Fprintf(&b, " (%s)", r.Sharing)
		}
		fmt.Fprintf(&b, ": %s", r.Engine)
		if r.Version != "" {
			fmt.Fprintf(&b, " %s", r.Version)
		}
		if len(r.Models) > 0 {
			fmt.Fprintf(&b, " serving %s", strings.Join(r.Models, ", "))
		}
		if kv := r.KV; kv != nil {
			fmt.Fprintf(&b, "; KV %s", kv)
		}
		if r.MemoryFraction > 0 {
			fmt.Fprintf(&b, "; memory fraction %g", r.MemoryFraction)
		}
		if r.MPSActiveThreadPct > 0 {
			fmt.Fprintf(&b, "; MPS active threads %g%%", r.MPSActiveThreadPct)
		}
		if len(r.Command) > 0 {
			fmt.Fprintf(&b, "; command %s", strings.Join(r.Command, " "))
		}
		if r.Died {
			fmt.Fprintf(&b, "; died: %s", r.Exit)
		}
		out = append(out, b.String())
	}
	for _, m := range s.MPS {
		line := fmt.Sprintf("mps daemon (%s): %s, pipes in %s", m.Sharing, m.Control, m.PipeDir)
		if m.QuitError != "" {
			line += "; quit failed: " + m.QuitError
		}
		out = append(out, line)
	}
	return out
}

// String is the cache in a few words: "4735 blocks of 16 tokens (75760
// tokens; vllm:cache_config_info)".
func (kv KVInfo) String() string {
	var parts []string
	switch {
	case kv.Blocks > 0 && kv.BlockTokens > 0:
		parts = append(parts, fmt.Sprintf("%d blocks of %d tokens", kv.Blocks, kv.BlockTokens))
	case kv.Blocks > 0:
		parts = append(parts, fmt.Sprintf("%d blocks", kv.Blocks))
	case kv.Slots > 0 && kv.SlotCtx > 0:
		parts = append(parts, fmt.Sprintf("%d slots of %d tokens", kv.Slots, kv.SlotCtx))
	}
	detail := kv.Source
	if kv.Tokens > 0 {
		detail = fmt.Sprintf("%d tokens; %s", kv.Tokens, kv.Source)
	}
	if len(parts) == 0 {
		return detail
	}
	return parts[0] + " (" + detail + ")"
}
