package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestCrossBuildArm64NoCgo builds fleettwin the way a DGX Spark gets it
// from an x86 machine: GOARCH=arm64, CGO_ENABLED=0. go-nvml needs cgo, so
// this is the build that keeps NVML behind its constraint (telemetry's
// nvml_off.go) and anything else cgo-only out of the simulator and the
// planner. Cold it compiles the standard library and every dependency for
// arm64 (minutes on two cores); the build cache makes later runs seconds.
func TestCrossBuildArm64NoCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the whole binary")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out := filepath.Join(t.TempDir(), "fleettwin")
	cmd := exec.Command(gobin, "build", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	start := time.Now()
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build ./cmd/fleettwin: %v\n%s", err, msg)
	}
	t.Logf("built in %v", time.Since(start).Round(time.Millisecond))
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("built for %v, want %v", f.Machine, elf.EM_AARCH64)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP { // a dynamic loader: cgo got in
			t.Errorf("the binary asks for a dynamic loader: not a static cgo-free build")
		}
	}
}
