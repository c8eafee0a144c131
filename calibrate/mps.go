package calibrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// DefaultMPSControl is NVIDIA's MPS control program, found on PATH.
const DefaultMPSControl = "nvidia-cuda-mps-control"

// mpsDaemon is the MPS control daemon a "mps" mode runs its servers
// under. Its pipe and log folders are the run's own (under mps/), so it
// never joins or stops a daemon someone else started, and the servers
// find it by the same CUDA_MPS_PIPE_DIRECTORY.
type mpsDaemon struct {
	bin       string
	pipe, log string
	out       string // the control program's own output, appended
	started   time.Time
}

// mpsStartTimeout bounds one call of the control program: `-d` forks the
// daemon and returns, `quit` asks it to end.
const mpsStartTimeout = 30 * time.Second

// maxSocketPath is the longest unix socket path Linux takes (sun_path
// less its NUL); the daemon's control socket is <pipe>/control.
const maxSocketPath = 107

// startMPS starts the MPS control daemon with its pipe and log folders
// under dir/mps.
func startMPS(ctx context.Context, bin, dir string) (*mpsDaemon, error) {
	if bin == "" {
		bin = DefaultMPSControl
	}
	d := &mpsDaemon{bin: bin, pipe: filepath.Join(dir, "mps", "pipe"), log: filepath.Join(dir, "mps", "log"), out: filepath.Join(dir, "mps", "control.out")}
	if abs, err := filepath.Abs(d.pipe); err == nil {
		d.pipe = abs // the servers may run in another working directory
		d.log = filepath.Join(filepath.Dir(abs), "log")
		d.out = filepath.Join(filepath.Dir(abs), "control.out")
	}
	if n := len(filepath.Join(d.pipe, "control")); n > maxSocketPath {
		return nil, fmt.Errorf("mps: the daemon's control socket %s would be %d bytes long, over the %d a unix socket path may have: put the runs folder (--runs) on a shorter path", filepath.Join(d.pipe, "control"), n, maxSocketPath)
	}
	for _, p := range []string{d.pipe, d.log} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("mps: %w", err)
		}
	}
	if err := d.control(ctx, "-d", ""); err != nil {
		return nil, err
	}
	d.started = time.Now().UTC()
	return d, nil
}

// env is what a server under this daemon needs to find it.
func (d *mpsDaemon) env() []string {
	return []string{"CUDA_MPS_PIPE_DIRECTORY=" + d.pipe, "CUDA_MPS_LOG_DIRECTORY=" + d.log}
}

// quit asks the daemon to end (`echo quit | nvidia-cuda-mps-control`). It
// takes no context: it runs after a cancel too, bounded by its timeout.
func (d *mpsDaemon) quit() error {
	ctx, cancel := context.WithTimeout(context.Background(), mpsStartTimeout)
	defer cancel()
	return d.control(ctx, "", "quit\n")
}

// control runs the control program with arg (or none) and stdin, its
// output appended to d.out. The output goes to a file, not a pipe: the
// daemon `-d` forks would hold a pipe open, and the wait for it with it.
func (d *mpsDaemon) control(ctx context.Context, arg, stdin string) error {
	ctx, cancel := context.WithTimeout(ctx, mpsStartTimeout)
	defer cancel()
	out, err := os.OpenFile(d.out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("mps: %w", err)
	}
	defer out.Close()
	var args []string
	what := "echo " + strings.TrimSpace(stdin) + " | " + d.bin
	if arg != "" {
		args = []string{arg}
		what = d.bin + " " + arg
	}
	fmt.Fprintf(out, "=== fleettwin calibrate %s: %s\n", time.Now().UTC().Format(time.RFC3339), what)
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.Env = append(os.Environ(), d.env()...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		msg := fmt.Sprintf("mps: %s: %v (its output is in %s", what, err, d.out)
		if tail := logTail(d.out, 10, 2<<10); tail != "" {
			msg += ", ending:\n" + indent(tail)
		}
		return errors.New(msg + ")")
	}
	return nil
}

// mpsEnvNames are the MPS variables a server inherits from the shell
// that ran calibrate: a server of another mode must not join a daemon
// through them, so they are dropped outside "mps".
var mpsEnvNames = []string{"CUDA_MPS_PIPE_DIRECTORY", "CUDA_MPS_LOG_DIRECTORY", "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"}
