// Package ollama starts and stops an Ollama server and registers GGUF
// models with it over its HTTP API, so calibration (and its tests) can run
// a real inference engine the project built itself. Ollama is offline here:
// models come from local files, never from a registry.
package ollama

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Config says how to run the server.
type Config struct {
	Bin string // the ollama binary
	Dir string // HOME and model store; the log goes to Dir/serve.log
	// MaxLoaded is OLLAMA_MAX_LOADED_MODELS; NumParallel OLLAMA_NUM_PARALLEL
	// (sequences each model serves at once).
	MaxLoaded, NumParallel int
}

// Server is a running `ollama serve`.
type Server struct {
	Addr string // host:port
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs `ollama serve` on a free loopback port and waits until it
// answers. The process gets its own process group so Stop can end it and
// the runners it spawns.
func Start(ctx context.Context, c Config) (*Server, error) {
	if _, err := os.Stat(c.Bin); err != nil {
		return nil, fmt.Errorf("ollama binary: %w (build it with scripts/build-ollama.sh)", err)
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, "models"), 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Log: filepath.Join(c.Dir, "serve.log"), done: make(chan struct{})}
	log, err := os.Create(s.Log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.Bin, "serve")
	cmd.Env = append(os.Environ(),
		"HOME="+c.Dir,
		"OLLAMA_HOST="+s.Addr,
		"OLLAMA_MODELS="+filepath.Join(c.Dir, "models"),
		"OLLAMA_MAX_LOADED_MODELS="+strconv.Itoa(max(c.MaxLoaded, 1)),
		"OLLAMA_NUM_PARALLEL="+strconv.Itoa(max(c.NumParallel, 1)),
		"OLLAMA_KEEP_ALIVE=-1",   // never unload mid-calibration
		"OLLAMA_NOPRUNE=1",       // leave the blobs we pushed alone
		"OLLAMA_NO_CLOUD=1",      // offline
		"OLLAMA_LOAD_TIMEOUT=2m", // a stuck load fails instead of hanging
	)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", c.Bin, err)
	}
	s.cmd = cmd
	go func() {
		s.err = cmd.Wait()
		log.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := s.get(ctx, "/api/version", nil); err == nil {
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("ollama serve exited at start (%v); see %s", s.err, s.Log)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("ollama serve did not answer within 30 s; see %s", s.Log)
		}
	}
}

// Attach is a client of an Ollama listening at addr (host:port) that
// someone else started: Create, Show and Version work; Stop does nothing
// and PID is 0.
func Attach(addr string) *Server { return &Server{Addr: addr} }

// PID is the server's process id (and process group); 0 for Attach.
func (s *Server) PID() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// BaseURL is the OpenAI-compatible API root.
func (s *Server) BaseURL() string { return "http://" + s.Addr + "/v1" }

// Stop ends the server and its runners: SIGTERM to the process group,
// SIGKILL after five seconds. It is safe to call more than once.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	select {
	case <-s.done:
		return nil
	default:
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
	// Runners live in the same group; make sure none outlives the server.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return nil
}

// Version is the server's reported version.
func (s *Server) Version(ctx context.Context) (string, error) {
	var v struct {
		Version string `json:"version"`
	}
	err := s.get(ctx, "/api/version", &v)
	return v.Version, err
}

// Create registers a GGUF file as model name, with a chat template and
// runtime parameters (num_thread, num_ctx, ...): the blob is pushed to
// /api/blobs, then /api/create builds the model from it.
func (s *Server) Create(ctx context.Context, name, ggufPath, template string, params map[string]any) error {
	digest, err := fileDigest(ggufPath)
	if err != nil {
		return err
	}
	f, err := os.Open(ggufPath)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.Addr+"/api/blobs/"+digest, f)
	if err != nil {
		return err
	}
	req.ContentLength = st.Size()
	if err := s.do(req, nil); err != nil {
		return fmt.Errorf("push %s: %w", ggufPath, err)
	}
	body, _ := json.Marshal(map[string]any{
		"model":      name,
		"files":      map[string]string{filepath.Base(ggufPath): digest},
		"template":   template,
		"parameters": params,
		"stream":     false,
	})
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.Addr+"/api/create", bytes.NewReader(body))
	if err != nil {
		return err
	}
	var status struct {
		Status string `json:"status"`
	}
	if err := s.do(req, &status); err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if status.Status != "success" {
		return fmt.Errorf("create %s: status %q", name, status.Status)
	}
	return nil
}

// Show returns the server's description of a model (parameters, template,
// model info): the settings a run directory records.
func (s *Server) Show(ctx context.Context, name string) (map[string]any, error) {
	body, _ := json.Marshal(map[string]string{"model": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.Addr+"/api/show", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := s.do(req, &out); err != nil {
		return nil, fmt.Errorf("show %s: %w", name, err)
	}
	delete(out, "tensors")
	if mi, ok := out["model_info"].(map[string]any); ok {
		for k := range mi {
			if len(k) > 10 && k[:10] == "tokenizer." {
				delete(mi, k) // the vocabulary: large and not a setting
			}
		}
	}
	return out, nil
}

func (s *Server) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Addr+path, nil)
	if err != nil {
		return err
	}
	return s.do(req, out)
}

func (s *Server) do(req *http.Request, out any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
