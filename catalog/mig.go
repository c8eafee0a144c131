package catalog

import (
	"fmt"
	"slices"
	"strings"
)

// MIGProfile is one Multi-Instance GPU partition a device offers (nvidia-smi
// mig -lgip): a slice of its SMs and of its memory, with the memory's share
// of bandwidth. MIG partitions are hard: an instance on one sees only its
// own SMs, memory and bandwidth.
type MIGProfile struct {
	Name string `toml:"name"` // as nvidia-smi writes it, e.g. "3g.40gb"
	// ComputeSlices and MemorySlices are the GPU and memory slices it takes
	// of the device's Hardware.MIGComputeSlices and MIGMemorySlices.
	ComputeSlices int     `toml:"compute_slices"`
	MemorySlices  int     `toml:"memory_slices"`
	SMs           int     `toml:"sms"`        // SMs the partition runs on
	MemoryGiB     float64 `toml:"memory_gib"` // memory it can allocate
	MaxCount      int     `toml:"max_count"`  // how many fit on one device
}

// MIGProfileNamed returns the device's MIG profile of that name, or an error
// listing the valid ones (or saying the device has no MIG).
func (h Hardware) MIGProfileNamed(name string) (MIGProfile, error) {
	if len(h.MIG) == 0 {
		return MIGProfile{}, fmt.Errorf("%s has no MIG partitions", h.Name)
	}
	i := slices.IndexFunc(h.MIG, func(p MIGProfile) bool { return p.Name == name })
	if i < 0 {
		names := make([]string, len(h.MIG))
		for j, p := range h.MIG {
			names[j] = p.Name
		}
		return MIGProfile{}, fmt.Errorf("%s has no MIG profile %q; valid: %s", h.Name, name, strings.Join(names, ", "))
	}
	return h.MIG[i], nil
}

// Partition is the device as an instance on the MIG partition p sees it:
// p's SMs (the tensor-core peaks in proportion to them), p's memory, the
// bandwidth of p's memory slices. Power, heat and price stay the whole
// device's: a partition does not have its own.
func (h Hardware) Partition(p MIGProfile) Hardware {
	q := h
	q.MIG = nil
	sm := float64(p.SMs) / float64(max(h.SMs, 1))
	q.SMs = p.SMs
	q.TFLOPSBF16 *= sm
	q.MeasuredTFLOPSBF16 *= sm
	q.TFLOPSFP8 *= sm
	q.TFLOPSInt8 *= sm
	q.TFLOPSFP4 *= sm
	q.MemoryBandwidthGBs *= float64(p.MemorySlices) / float64(max(h.MIGMemorySlices, 1))
	q.MemoryGiB = p.MemoryGiB
	q.UsableMemoryGiB = min(p.MemoryGiB, h.UsableMemoryGiB)
	q.DisplayName = fmt.Sprintf("%s MIG %s", h.DisplayName, p.Name)
	return q
}
