package calibrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeMPSControl writes a shell script standing in for
// nvidia-cuda-mps-control, which needs an NVIDIA GPU: it appends one line
// per call to calls (its arguments, its stdin, the MPS variables it got)
// and exits with status code. It is the one stand-in the calibration
// tests use; the real program's name stays DefaultMPSControl.
func fakeMPSControl(t testing.TB, dir string, code int) (bin, calls string) {
	t.Helper()
	bin, calls = filepath.Join(dir, "fake-mps-control"), filepath.Join(dir, "mps-calls")
	script := `#!/bin/sh
in=""
[ "$#" -eq 0 ] && in=$(cat)
echo "args=[$*] stdin=[$in] pipe=$CUDA_MPS_PIPE_DIRECTORY log=$CUDA_MPS_LOG_DIRECTORY" >> '` + calls + `'
echo "fake control output"
exit ` + string(rune('0'+code)) + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, calls
}

func TestMPSDaemon(t *testing.T) {
	dir := t.TempDir()
	bin, calls := fakeMPSControl(t, dir, 0)
	run := filepath.Join(dir, "run")
	d, err := startMPS(context.Background(), bin, run)
	if err != nil {
		t.Fatal(err)
	}
	pipe, log := filepath.Join(run, "mps", "pipe"), filepath.Join(run, "mps", "log")
	if d.pipe != pipe || d.log != log {
		t.Errorf("folders %s, %s", d.pipe, d.log)
	}
	for _, p := range []string{pipe, log} {
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			t.Errorf("%s: %v", p, err)
		}
	}
	if env := strings.Join(d.env(), " "); env != "CUDA_MPS_PIPE_DIRECTORY="+pipe+" CUDA_MPS_LOG_DIRECTORY="+log {
		t.Errorf("server env %q", env)
	}
	if err := d.quit(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(calls)
	want := "args=[-d] stdin=[] pipe=" + pipe + " log=" + log + "\nargs=[] stdin=[quit] pipe=" + pipe + " log=" + log + "\n"
	if string(got) != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
	if out, _ := os.ReadFile(d.out); strings.Count(string(out), "fake control output") != 2 {
		t.Errorf("control output not kept: %q", out)
	}
}

func TestMPSDaemonErrors(t *testing.T) {
	dir := t.TempDir()
	failing, _ := fakeMPSControl(t, dir, 1)
	for _, c := range []struct {
		name, bin, dir, want string
	}{
		{"fails", failing, filepath.Join(dir, "run"), "mps: " + failing + " -d: exit status 1 (its output is in " + filepath.Join(dir, "run", "mps", "control.out") + ", ending:\n    fake control output)"},
		{"missing", filepath.Join(dir, "nvidia-cuda-mps-control"), filepath.Join(dir, "run2"), "no such file"},
		{"socket path", failing, filepath.Join(dir, strings.Repeat("r", 100)), "over the 107 a unix socket path may have: put the runs folder (--runs) on a shorter path"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := startMPS(context.Background(), c.bin, c.dir); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %q", err, c.want)
			}
		})
	}
}
