package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/scenarios"
	"github.com/fleettwin/fleettwin/web"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [--addr 127.0.0.1:8080] [--data DIR] [--token T] [--start scenario.toml [--speed X]] [--calibrations DIR] [--calibration-plans DIR] [--max-runs N] [--max-plans N]", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address; anything but loopback needs a token")
	dataDir := fs.String("data", "fleettwin-data", "directory the runs are kept in")
	token := fs.String("token", "", "require this token (generated when binding off loopback without one)")
	var calibrations stringList
	fs.Var(&calibrations, "calibrations", "folder of calibration runs to show live (repeatable; default: runs)")
	calPlans := fs.String("calibration-plans", "calibration-plans", "folder of calibration plans the dashboard may start by name (pasted plans work without one)")
	ollamaBin := fs.String("ollama", os.Getenv("FLEETTWIN_OLLAMA"), `Ollama binary for calibrations started from the dashboard whose plans have url = "local"`)
	maxRuns := fs.Int("max-runs", jobs.DefaultMaxRuns(), "simulations running at once; more wait queued")
	maxPlans := fs.Int("max-plans", 1, "plans searching at once; more wait queued")
	start := fs.String("start", "", "start this shipped scenario (or scenario file) when the server comes up")
	speed := fs.Float64("speed", 600, "with --start: simulated seconds per real second (0: as fast as possible)")
	var catalogs, profiles stringList
	fs.Var(&catalogs, "catalog", "extra catalog TOML (repeatable)")
	fs.Var(&profiles, "profile", "extra profile TOML (repeatable)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *maxRuns < 1 || *maxPlans < 1 {
		return usagef("--max-runs and --max-plans must be at least 1")
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return usagef("--addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && *token == "" {
		// The dashboard can start runs, so it never listens beyond this
		// machine without a secret.
		b := make([]byte, 16)
		rand.Read(b)
		*token = hex.EncodeToString(b)
	}
	e, err := loadEnv(catalogs, profiles)
	if err != nil {
		return err
	}
	if len(calibrations) == 0 {
		calibrations = stringList{"runs"} // where `calibrate run` writes by default
	}
	srv, closeJobs, err := wire(ctx, serveConfig{dataDir: *dataDir, token: *token, env: e, calibrations: calibrations, calPlans: *calPlans,
		ollama: *ollamaBin, maxRuns: *maxRuns, maxPlans: *maxPlans})
	if err != nil {
		return err
	}
	defer closeJobs()
	// Listen before starting anything: a taken port fails here and
	// leaves no run behind in the data dir.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if *start != "" {
		data, err := scenarios.FS.ReadFile(*start)
		if err != nil {
			if data, err = os.ReadFile(*start); err != nil {
				return fmt.Errorf("--start: %w", err)
			}
		}
		run, base, err := srv.StartWithBaseline(*start, data, *speed)
		if err != nil {
			return fmt.Errorf("--start: %w", err)
		}
		if base != nil {
			fmt.Fprintf(stdout, "started %s: run %s, beside its baseline %s: run %s\n", *start, run.State().ID, base.State().Name, base.State().ID)
		} else {
			fmt.Fprintf(stdout, "started %s: run %s\n", *start, run.State().ID)
		}
	}
	url := "http://" + ln.Addr().String() + "/"
	if *token != "" {
		url += "?token=" + *token
	}
	fmt.Fprintf(stdout, "fleettwin dashboard: %s (runs kept in %s; Ctrl-C stops)\n", url, *dataDir)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(shut)
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveConfig is what serve wires the dashboard from.
type serveConfig struct {
	dataDir, token    string
	env               *env
	calibrations      []string
	calPlans, ollama  string
	maxRuns, maxPlans int
}

// wire opens the jobs under the data dir, publishing to the dashboard's
// hub, and hands them to the dashboard. closeJobs stops them (their
// contexts first, all at once, then each kind saves what it has: runs,
// plans, calibrations) once the HTTP server no longer starts any.
func wire(ctx context.Context, c serveConfig) (srv *web.Server, closeJobs func(), err error) {
	srv = web.NewServer()
	srv.Token, srv.Catalog, srv.Profiles, srv.CalibrationPlans = c.token, c.env.cat, c.env.profiles, c.calPlans
	jctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	cfg := jobs.Config{DataDir: c.dataDir, Catalog: c.env.cat, Profiles: c.env.profiles, Publisher: srv.Hub}
	if srv.Runs, err = jobs.OpenRuns(jctx, cfg, c.maxRuns); err != nil {
		stop()
		return nil, nil, err
	}
	srv.Plans = jobs.OpenPlans(jctx, cfg, c.maxPlans)
	srv.Calibrations = jobs.OpenCalibrations(jctx, cfg, c.calibrations, c.ollama)
	return srv, func() {
		stop()
		srv.Runs.Close()
		srv.Plans.Close()
		srv.Calibrations.Close()
	}, nil
}
