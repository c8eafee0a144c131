package calibrate

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleettwin/fleettwin/calibrate/ollama"
	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/randmodel"
)

// LocalOptions say how to serve a plan's models locally.
type LocalOptions struct {
	Bin string // ollama binary
	Dir string // server home, models and GGUF files
	// Threads per model (Ollama num_thread): 1 on a 2-core machine, or two
	// loaded models starve each other.
	Threads int
	// Context is each sequence's context (num_ctx).
	Context int
	Log     io.Writer
}

// ServeLocal writes a random-weight GGUF of each plan model's architecture
// (reusing files already written), starts one Ollama serving all of them at
// once, and points the plan's URLs at it. The caller must Stop the server.
func ServeLocal(ctx context.Context, p *Plan, cat *catalog.Catalog, opt LocalOptions) (*ollama.Server, error) {
	cat = p.catalogOr(cat)
	parallel := 1
	for _, m := range p.Models {
		parallel = max(parallel, m.MaxSeqs)
	}
	if opt.Threads == 0 {
		opt.Threads = 1
	}
	if opt.Context == 0 {
		opt.Context = 1024
	}
	type file struct{ name, path string }
	var files []file
	for i, m := range p.Models {
		arch, err := cat.Model(m.Arch)
		if err != nil {
			return nil, err
		}
		typ, err := randmodel.TypeFor(m.Format)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", m.Name, err)
		}
		path := filepath.Join(opt.Dir, fmt.Sprintf("%s-%s-seed%d.gguf", m.Arch, m.Format, i+1))
		if _, err := os.Stat(path); err != nil {
			f, err := randmodel.Build(arch, randmodel.Options{Weights: typ, Seed: uint64(i + 1), ContextLength: opt.Context})
			if err != nil {
				return nil, err
			}
			if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
				return nil, err
			}
			if _, err := randmodel.WriteFile(path, f); err != nil {
				return nil, err
			}
		}
		files = append(files, file{m.Name, path})
	}
	srv, err := ollama.Start(ctx, ollama.Config{Bin: opt.Bin, Dir: opt.Dir, MaxLoaded: len(p.Models), NumParallel: parallel})
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		params := map[string]any{"num_thread": opt.Threads, "num_ctx": opt.Context}
		if err := srv.Create(ctx, f.name, f.path, randmodel.OllamaTemplate, params); err != nil {
			srv.Stop()
			return nil, err
		}
	}
	for i := range p.Models {
		p.Models[i].URL = srv.BaseURL()
	}
	if opt.Log != nil {
		fmt.Fprintf(opt.Log, "calibrate: serving %d random-weight models with ollama (pid %d) at %s\n", len(files), srv.PID(), srv.BaseURL())
	}
	return srv, nil
}

// RecordServers records the server ServeLocal started in the run
// directory's servers.json: its version, and per model what it says of it
// (parameters, template, architecture).
func RecordServers(ctx context.Context, dir string, srv *ollama.Server, p *Plan) (map[string]string, error) {
	v, err := srv.Version(ctx)
	if err != nil {
		return nil, err
	}
	shows := map[string]any{}
	var names []string
	for _, m := range p.Models {
		show, err := srv.Show(ctx, m.Name)
		if err != nil {
			return nil, err
		}
		shows[m.Name] = show
		names = append(names, m.Name)
	}
	b, err := openBook(dir)
	if err != nil {
		return nil, err
	}
	_, err = b.add(ServerRecord{Name: "ollama", Sharing: p.Modes()[0], Engine: "ollama", URL: strings.TrimSuffix(srv.BaseURL(), "/v1"),
		Models: names, PID: srv.PID(), Started: time.Now().UTC(), Version: v, Info: map[string]any{"models": shows}})
	return map[string]string{"ollama": v}, err
}
