package calibrate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleettwin/fleettwin/calibrate/ollama"
	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/randmodel"
	"github.com/fleettwin/fleettwin/scenario"
)

// ServerOptions let a Runner start the plan's [[servers]]. A Runner
// without them refuses such a plan: starting programs a plan names is for
// the calibrate command, not for any caller handed a plan (a dashboard
// taking pasted plans).
type ServerOptions struct {
	// Catalog gives the architectures of random-weight models that
	// kind = "ollama" servers create.
	Catalog *catalog.Catalog
	// Ollama is the binary of kind = "ollama" servers with no command.
	Ollama string
	// MPSControl, when set, replaces the plan's mps_control.
	MPSControl string
	// Home holds kind = "ollama" servers' HOME and model stores (one
	// folder each) and the random-weight GGUFs they create models from;
	// default .ollama beside the run folder, so runs share them.
	Home string
}

// stack is one sharing mode's servers while its experiments run.
type stack struct {
	r     *Runner
	mode  scenario.Sharing
	ctx   context.Context // ends when a server dies, with a *ServerError cause
	dead  context.CancelCauseFunc
	procs []*started
	mps   *mpsDaemon
	mpsAt int // its record
	quiet chan struct{}
	watch sync.WaitGroup
}

type started struct {
	spec serverSpec
	proc *process
	root string
	rec  int
}

// startMode brings up a mode: the MPS daemon for "mps", then every server
// at once, each polled until healthy, its models created (kind =
// "ollama"), probed and recorded, and the plan's models pointed at it.
// Without [[servers]] the servers are already up: they are only probed
// and recorded. On an error whatever started is stopped again.
func (r *Runner) startMode(ctx context.Context, mode scenario.Sharing, st *State) (*stack, error) {
	s := &stack{r: r, mode: mode, quiet: make(chan struct{})}
	s.ctx, s.dead = context.WithCancelCause(ctx)
	if len(r.Plan.Servers) == 0 {
		r.recordExternal(s.ctx, mode)
		return s, nil
	}
	if r.Servers == nil {
		return nil, fmt.Errorf("plan %s starts its own servers ([[servers]]): only `fleettwin calibrate run` starts server processes, and this caller does not", r.Plan.Name)
	}
	ok := false
	defer func() {
		if !ok {
			s.stop()
		}
	}()
	// The daemon runs where the plan asks for mps; mps as a host's
	// default (servers on their own cores) is the servers as they are.
	if mode == scenario.MPS && slices.Contains(r.Plan.Sharing, scenario.MPS) {
		bin := r.Servers.MPSControl
		if bin == "" {
			bin = r.Plan.MPSControl
		}
		d, err := startMPS(ctx, bin, r.Dir)
		if err != nil {
			return nil, err
		}
		s.mps = d
		if s.mpsAt, err = r.book.addMPS(MPSRecord{Sharing: mode, Control: d.bin, PipeDir: d.pipe, LogDir: d.log, Started: d.started}); err != nil {
			return nil, err
		}
		r.logf("calibrate: mode %s: MPS control daemon started (%s -d, pipes in %s)", mode, d.bin, d.pipe)
	} else if _, err := os.Stat("/tmp/nvidia-mps/control"); err == nil {
		r.logf("calibrate: mode %s: warning: an MPS daemon listens at /tmp/nvidia-mps (the default): servers started without CUDA_MPS_PIPE_DIRECTORY join it, and this mode measures MPS", mode)
	}
	// The servers load at once; the first that fails ends the others'
	// waits, and is the error.
	specs := r.Plan.modeServers(mode)
	sctx, failed := context.WithCancelCause(s.ctx)
	defer failed(nil)
	var wg sync.WaitGroup
	for _, spec := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.startServer(sctx, spec, st); err != nil {
				failed(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(sctx); err != nil {
		return nil, err
	}
	for _, p := range s.procs {
		s.watch.Add(1)
		go func() {
			defer s.watch.Done()
			select {
			case <-p.proc.done:
				s.dead(p.proc.serverError("exited during the run (" + exitString(p.proc.err) + ")"))
			case <-s.quiet:
			}
		}()
	}
	ok = true
	return s, nil
}

// startServer starts one server and waits until it serves.
func (s *stack) startServer(ctx context.Context, spec serverSpec, st *State) error {
	r := s.r
	port := spec.Port
	if spec.URL != "" {
		if u, err := url.Parse(spec.URL); err == nil {
			port, _ = strconv.Atoi(u.Port())
		}
	} else if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return fmt.Errorf("server %s: %w", spec.Name, err)
		}
	}
	root := spec.root(port)
	argv, env, set, err := r.serverCommand(spec, port, s.mps)
	if err != nil {
		return err
	}
	logRel := filepath.Join("servers", spec.Name+".log")
	header := fmt.Sprintf("sharing %s, serving %v: %q", spec.mode, spec.Models, argv)
	r.logf("calibrate: mode %s: starting server %s at %s (log %s)", spec.mode, spec.Name, root, filepath.Join(r.Dir, logRel))
	var unset []string
	if s.mps == nil {
		unset = mpsEnvNames
	}
	p, err := startProcess(spec.Name, argv, env, unset, filepath.Join(r.Dir, logRel), header)
	if err != nil {
		return err
	}
	rec := ServerRecord{Name: spec.Name, Sharing: spec.mode, Engine: r.Plan.Engine, Managed: true, URL: root, Models: spec.Models,
		PID: p.pid(), Command: argv, Env: set, MemoryFraction: spec.MemoryFraction, Log: logRel, Started: time.Now().UTC()}
	if s.mps != nil {
		rec.MPSActiveThreadPct = spec.MPSActiveThreadPct
	}
	at, err := r.book.add(rec)
	sv := &started{spec: spec, proc: p, root: root, rec: at}
	s.r.mu.Lock()
	s.procs = append(s.procs, sv)
	s.r.mu.Unlock()
	if err != nil {
		return err
	}
	if err := p.waitReady(ctx, root+spec.Health, seconds(spec.ReadyS), r.logf); err != nil {
		return err
	}
	ready := time.Since(rec.Started).Seconds()
	var kv *KVInfo
	info := map[string]any{}
	if spec.Kind == KindOllama {
		if kv, err = r.createOllamaModels(ctx, spec, root, info); err != nil {
			return fmt.Errorf("server %s: %w", spec.Name, err)
		}
	}
	version, probed, pinfo, perrs := probeServer(ctx, r.Plan.Engine, root)
	if probed != nil {
		kv = probed
	}
	for k, v := range pinfo {
		info[k] = v
	}
	if len(info) == 0 {
		info = nil
	}
	if err := r.book.update(at, func(rec *ServerRecord) {
		rec.ReadyS, rec.Version, rec.KV, rec.Info, rec.ProbeErrors = ready, version, kv, info, perrs
	}); err != nil {
		return err
	}
	r.mu.Lock()
	for i, m := range r.Plan.Models {
		if slices.Contains(spec.Models, m.Name) {
			r.Plan.deriveURL(i, root)
		}
	}
	if version != "" {
		if st.Versions == nil {
			st.Versions = map[string]string{}
		}
		st.Versions["server "+spec.Name] = r.Plan.Engine + " " + version
	}
	r.mu.Unlock()
	what := r.Plan.Engine + " " + version
	if kv != nil {
		what += "; KV " + kv.String()
	}
	r.logf("calibrate: mode %s: server %s (pid %d) ready after %.1f s (%s)", spec.mode, spec.Name, p.pid(), ready, what)
	for _, e := range perrs {
		r.logf("calibrate: server %s: could not read: %s", spec.Name, e)
	}
	return nil
}

// serverCommand is a server's argv and environment ("KEY=value") with
// the placeholders expanded, and the environment it set as a map, for
// the record.
func (r *Runner) serverCommand(spec serverSpec, port int, mps *mpsDaemon) (argv, env []string, set map[string]string, err error) {
	dir := r.Dir
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	set = map[string]string{}
	cmd := spec.Command
	if spec.Kind == KindOllama {
		if len(cmd) == 0 {
			if r.Servers.Ollama == "" {
				return nil, nil, nil, fmt.Errorf("server %s: kind = %q with no command needs an Ollama binary (calibrate run --ollama BIN)", spec.Name, KindOllama)
			}
			cmd = []string{r.Servers.Ollama, "serve"}
		}
		home := filepath.Join(r.ollamaHome(), "servers", spec.Name)
		parallel := 1
		for _, m := range spec.Models {
			pm, _ := r.Plan.Model(m)
			parallel = max(parallel, pm.MaxSeqs)
		}
		host := "127.0.0.1:" + strconv.Itoa(port)
		if spec.URL != "" {
			if u, err := url.Parse(spec.URL); err == nil {
				host = u.Host
			}
		}
		set["HOME"] = home
		set["OLLAMA_HOST"] = host
		set["OLLAMA_MODELS"] = filepath.Join(home, "models")
		set["OLLAMA_MAX_LOADED_MODELS"] = strconv.Itoa(len(spec.Models))
		set["OLLAMA_NUM_PARALLEL"] = strconv.Itoa(parallel)
		set["OLLAMA_KEEP_ALIVE"] = "-1" // never unload mid-calibration
		set["OLLAMA_NOPRUNE"] = "1"     // leave the blobs pushed alone
		set["OLLAMA_NO_CLOUD"] = "1"
		set["OLLAMA_LOAD_TIMEOUT"] = "2m"
		if err := os.MkdirAll(filepath.Join(home, "models"), 0o755); err != nil {
			return nil, nil, nil, fmt.Errorf("server %s: %w", spec.Name, err)
		}
	}
	for _, a := range cmd {
		argv = append(argv, expand(a, port, dir, spec.Name))
	}
	for _, k := range sortedKeys(spec.Env) {
		set[k] = expand(spec.Env[k], port, dir, spec.Name)
	}
	if mps != nil {
		for _, kv := range mps.env() {
			k, v, _ := strings.Cut(kv, "=")
			set[k] = v
		}
		if pct := spec.MPSActiveThreadPct; pct > 0 {
			set["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] = strconv.FormatFloat(pct, 'g', -1, 64)
		}
	}
	for _, k := range sortedKeys(set) {
		env = append(env, k+"="+set[k])
	}
	return argv, env, set, nil
}

func (r *Runner) ollamaHome() string {
	if r.Servers != nil && r.Servers.Home != "" {
		return r.Servers.Home
	}
	dir := filepath.Dir(r.Dir)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Join(dir, ".ollama")
}

// createOllamaModels creates each model of a kind = "ollama" server from
// its gguf, or from a random-weight GGUF of its architecture (written
// once under the Ollama home, like ServeLocal's), with the server's
// num_thread and num_ctx. Its KV cache is num_ctx × OLLAMA_NUM_PARALLEL
// per model: Ollama gives each parallel sequence num_ctx.
func (r *Runner) createOllamaModels(ctx context.Context, spec serverSpec, root string, info map[string]any) (*KVInfo, error) {
	u, err := url.Parse(root)
	if err != nil {
		return nil, err
	}
	srv := ollama.Attach(u.Host)
	var kv *KVInfo
	params := map[string]any{}
	for _, name := range spec.Models {
		i := slices.IndexFunc(r.Plan.Models, func(m PlanModel) bool { return m.Name == name })
		m := r.Plan.Models[i]
		numCtx := spec.NumCtx
		if numCtx == 0 {
			numCtx = defaultNumCtx
		}
		path := m.GGUF
		if path == "" {
			if path, err = r.randomGGUF(m, i, numCtx); err != nil {
				return nil, err
			}
		}
		p := map[string]any{"num_ctx": numCtx}
		if spec.NumThread > 0 {
			p["num_thread"] = spec.NumThread
		}
		r.logf("calibrate: server %s: creating %s from %s", spec.Name, name, path)
		if err := srv.Create(ctx, name, path, randmodel.OllamaTemplate, p); err != nil {
			return nil, err
		}
		params[name] = map[string]any{"gguf": path, "parameters": p}
		if kv == nil {
			parallel := 1
			for _, n := range spec.Models {
				pm, _ := r.Plan.Model(n)
				parallel = max(parallel, pm.MaxSeqs)
			}
			if v, err := strconv.Atoi(spec.Env["OLLAMA_NUM_PARALLEL"]); err == nil && v > 0 {
				parallel = v
			}
			kv = &KVInfo{Slots: parallel, SlotCtx: numCtx, Tokens: parallel * numCtx, Source: "ollama num_ctx × OLLAMA_NUM_PARALLEL, per model"}
		}
	}
	info["models"] = params
	return kv, nil
}

// randomGGUF writes (once) a random-weight GGUF of a plan model's
// architecture and format, seeded by its place in the plan.
func (r *Runner) randomGGUF(m PlanModel, i, numCtx int) (string, error) {
	cat := r.Plan.catalogOr(r.Servers.Catalog)
	if cat == nil {
		return "", fmt.Errorf("model %s: a random-weight model needs the catalog (ServerOptions.Catalog)", m.Name)
	}
	arch, err := cat.Model(m.Arch)
	if err != nil {
		return "", err
	}
	typ, err := randmodel.TypeFor(m.Format)
	if err != nil {
		return "", fmt.Errorf("model %s: %w", m.Name, err)
	}
	path := filepath.Join(r.ollamaHome(), "gguf", fmt.Sprintf("%s-%s-seed%d-ctx%d.gguf", m.Arch, m.Format, i+1, numCtx))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	r.logf("calibrate: model %s: writing a random-weight GGUF of %s (%s) to %s", m.Name, m.Arch, m.Format, path)
	f, err := randmodel.Build(arch, randmodel.Options{Weights: typ, Seed: uint64(i + 1), ContextLength: numCtx})
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if _, err := randmodel.WriteFile(path, f); err != nil {
		return "", err
	}
	return path, nil
}

// stop ends the mode: servers first (all at once, each SIGTERM then
// SIGKILL after its stop_s), then the MPS daemon, each stop recorded. It
// runs after a cancel too, and on a stack that started only in part.
func (s *stack) stop() {
	select {
	case <-s.quiet:
		return // stopped already
	default:
	}
	close(s.quiet)
	s.watch.Wait()
	var wg sync.WaitGroup
	for _, p := range s.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			died := p.proc.exited()
			p.proc.stop(seconds(p.spec.StopS))
			now := time.Now().UTC()
			if err := s.r.book.update(p.rec, func(rec *ServerRecord) {
				rec.Stopped, rec.Exit, rec.Died = &now, exitString(p.proc.err), died
			}); err != nil {
				s.r.logf("calibrate: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(s.procs) > 0 {
		s.r.logf("calibrate: mode %s: %d server(s) stopped", s.mode, len(s.procs))
	}
	if s.mps != nil {
		err := s.mps.quit()
		now := time.Now().UTC()
		if uerr := s.r.book.updateMPS(s.mpsAt, func(m *MPSRecord) {
			m.Stopped = &now
			if err != nil {
				m.QuitError = err.Error()
			}
		}); uerr != nil {
			s.r.logf("calibrate: %v", uerr)
		}
		if err != nil {
			s.r.logf("calibrate: mode %s: %v", s.mode, err)
		} else {
			s.r.logf("calibrate: mode %s: MPS control daemon quit", s.mode)
		}
	}
	s.dead(nil)
}

// died is the error of a server that exited while the mode ran, or nil.
func (s *stack) died() *ServerError {
	var se *ServerError
	if errors.As(context.Cause(s.ctx), &se) {
		return se
	}
	return nil
}

// recordExternal probes and records each server the plan's models point
// at (one per root URL) that servers.json does not hold yet.
func (r *Runner) recordExternal(ctx context.Context, mode scenario.Sharing) {
	roots := map[string][]string{}
	var order []string
	for _, m := range r.Plan.Models {
		u, err := url.Parse(m.URL)
		if err != nil || u.Host == "" {
			continue
		}
		root := u.Scheme + "://" + u.Host
		if _, ok := roots[root]; !ok {
			order = append(order, root)
		}
		roots[root] = append(roots[root], m.Name)
	}
	for _, root := range order {
		if r.book.has(root) {
			continue
		}
		version, kv, info, perrs := probeServer(ctx, r.Plan.Engine, root)
		rec := ServerRecord{Name: hostName(root), Sharing: mode, Engine: r.Plan.Engine, URL: root, Models: roots[root],
			Started: time.Now().UTC(), Version: version, KV: kv, Info: info, ProbeErrors: perrs}
		if _, err := r.book.add(rec); err != nil {
			r.logf("calibrate: %v", err)
		}
	}
}

func hostName(root string) string {
	if u, err := url.Parse(root); err == nil {
		return u.Host
	}
	return root
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
