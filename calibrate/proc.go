package calibrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// process is a server process the run started, in its own process group,
// its output appended to a log file.
type process struct {
	name string
	log  string // path
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit, once done
}

// startProcess starts argv with the inherited environment, less the
// variables named in unset, plus env ("KEY=value"; later entries win), in
// a process group of its own, so that
// stop reaches every process it forks (vLLM's engine cores, Ollama's
// runners). Its output is appended to logPath after a header line, so a
// resumed run's log keeps the earlier starts.
func startProcess(name string, argv, env, unset []string, logPath, header string) (*process, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, fmt.Errorf("server %s: no command", name)
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("server %s: %w", name, err)
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", name, err)
	}
	fmt.Fprintf(log, "=== fleettwin calibrate %s: %s\n", time.Now().UTC().Format(time.RFC3339), header)
	cmd := exec.Command(argv[0], argv[1:]...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(unset, k) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
	p := &process{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	// Linux sends the parent-death signal when the thread that forked the
	// child ends, not the process, and a goroutine moves between threads:
	// the child is started, and waited for, on one locked thread, which
	// so lives as long as the child.
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(log, "=== fleettwin calibrate: could not start: %v\n", err)
			log.Close()
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		fmt.Fprintf(log, "=== fleettwin calibrate: exited: %v\n", exitString(p.err))
		log.Close()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("server %s: start %s: %w", name, argv[0], err)
	}
	return p, nil
}

// pid is the process's id, which is also its process group's.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process group: SIGTERM, then SIGKILL if the leader has not
// exited after grace; then SIGKILL to the group again, for any child that
// outlived its parent. It does not take a context: it must run after a
// cancel too, and it is bounded by grace.
func (p *process) stop(grace time.Duration) {
	pg := -p.pid()
	if !p.exited() {
		_ = syscall.Kill(pg, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(pg, syscall.SIGKILL)
			<-p.done
		}
	}
	_ = syscall.Kill(pg, syscall.SIGKILL)
}

// exitString says how a process ended, for errors and the log.
func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// ServerError is a server that would not start, or that exited while the
// run needed it; it carries the end of the server's log.
type ServerError struct {
	Server string
	What   string // "exited at start (exit status 1)", "not ready after 600 s", ...
	Log    string // the log file
	Tail   string // its last lines
}

func (e *ServerError) Error() string {
	msg := fmt.Sprintf("server %s %s; its log is %s", e.Server, e.What, e.Log)
	if e.Tail != "" {
		msg += ", ending:\n" + indent(e.Tail)
	}
	return msg
}

// serverError describes p's failure with the tail of its log.
func (p *process) serverError(what string) *ServerError {
	return &ServerError{Server: p.name, What: what, Log: p.log, Tail: logTail(p.log, 20, 4<<10)}
}

// logTail is the last lines (at most n, and at most max bytes) of a log
// file, without fleettwin's own header lines; "" if it cannot be read.
func logTail(path string, n, max int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - int64(max)
	if off < 0 {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, int64(max)))
	if err != nil {
		return ""
	}
	if off > 0 { // drop the partial first line
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !strings.HasPrefix(l, "=== fleettwin calibrate") && l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// waitReady polls url until it answers 200, the process exits, timeout
// passes or ctx ends, saying every 15 s how long it has waited (a large
// model loads for minutes).
func (p *process) waitReady(ctx context.Context, url string, timeout time.Duration, logf func(string, ...any)) error {
	start := time.Now()
	client := &http.Client{Timeout: 2 * time.Second}
	last := "no answer yet"
	said := start
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("server %s: health URL %s: %w", p.name, url, err)
		}
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("HTTP %d", resp.StatusCode)
		} else if !errors.Is(err, context.Canceled) {
			last = err.Error()
		}
		select {
		case <-p.done:
			return p.serverError("exited at start (" + exitString(p.err) + ")")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if el := time.Since(start); el > timeout {
			return p.serverError(fmt.Sprintf("was not ready after %.0f s (GET %s: %s; raise its ready_s if it loads for longer)", timeout.Seconds(), url, last))
		} else if time.Since(said) >= 15*time.Second {
			said = time.Now()
			logf("calibrate: waiting for server %s: %.0f s of %.0f (GET %s: %s)", p.name, el.Seconds(), timeout.Seconds(), url, last)
		}
	}
}

// expand replaces the placeholders of a command argument or env value.
// Only these are replaced: other braces (a JSON argument) are left alone.
func expand(s string, port int, dir, name string) string {
	return strings.NewReplacer("{port}", fmt.Sprint(port), "{dir}", dir, "{name}", name).Replace(s)
}
