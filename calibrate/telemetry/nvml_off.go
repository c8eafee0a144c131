//go:build !cgo || nonvml

package telemetry

import "errors"

// openNVML is what a build without NVML has: go-nvml needs cgo, and a
// static or cross-compiled binary (the DGX Spark's arm64 from an x86
// machine) goes without it; Open then tries nvidia-smi.
func openNVML() (Source, error) {
	return nil, errors.New("built without NVML (CGO_ENABLED=0 or -tags nonvml)")
}
