package scenario

import (
	"slices"

	"github.com/fleettwin/fleettwin/catalog"
)

// The scenario's choices among named policies. Each has one list of valid
// values, which both the check and its error message use, so a value cannot
// be accepted without being offered (or the reverse). The File's fields have
// these types, so TOML and JSON read and write them as plain strings.

// Router is a policy that picks an instance for a request.
type Router string

// The routers.
const (
	RoundRobin       Router = "round-robin"
	LeastOutstanding Router = "least-outstanding" // the fewest requests queued and running
	PowerOfTwo       Router = "power-of-two"      // the less loaded of two drawn at random
	// PrefixAffinity sends a request where most of its prompt is cached,
	// among the instances not much busier than the least busy
	// (sim/prefix_route.go).
	PrefixAffinity Router = "prefix-affinity"
)

// Routers are the valid routers, in the order errors list them.
var Routers = []Router{RoundRobin, LeastOutstanding, PowerOfTwo, PrefixAffinity}

// DefaultRouter is the router of a scenario that names none.
const DefaultRouter = LeastOutstanding

// Valid reports whether r is one of Routers.
func (r Router) Valid() bool { return slices.Contains(Routers, r) }

// Pricing is how the hardware is paid for.
type Pricing string

// The pricings.
const (
	PricingOwn   Pricing = "own"   // buy, amortize, pay for power and hosting
	PricingCloud Pricing = "cloud" // rent each device by the hour
)

// Pricings are the valid pricings, in the order errors list them.
var Pricings = []Pricing{PricingOwn, PricingCloud}

// Valid reports whether p is one of Pricings.
func (p Pricing) Valid() bool { return slices.Contains(Pricings, p) }

// MemorySharing is how co-located instances share a device's memory.
type MemorySharing string

// The memory sharings; a node group that names none shares statically.
const (
	MemoryStatic  MemorySharing = "static"  // a fixed share each
	MemoryDynamic MemorySharing = "dynamic" // KV blocks drawn from one pool
)

// MemorySharings are the valid memory sharings, in the order errors list
// them.
var MemorySharings = []MemorySharing{MemoryStatic, MemoryDynamic}

// Valid reports whether m is one of MemorySharings.
func (m MemorySharing) Valid() bool { return slices.Contains(MemorySharings, m) }

// Sharing is how co-located instances share a device's compute: what the
// GPU does when two server processes (or one process with two models) run
// on it at once.
type Sharing string

// The sharings.
const (
	// TimeSlice is separate processes without MPS, the CUDA default: the
	// kernels of different processes never run at once; the GPU switches
	// between contexts in time slices.
	TimeSlice Sharing = "time-slice"
	// MPS runs the kernels of every process at once under NVIDIA's
	// Multi-Process Service, sharing SMs and bandwidth; an instance's
	// mps_active_thread_pct caps its share of SMs.
	MPS Sharing = "mps"
	// MIG gives each instance a hard partition of the device (its mig
	// profile): its own SMs, memory and bandwidth, and no contention.
	MIG Sharing = "mig"
	// OneProcess is one server hosting every model of the node, whose
	// steps alternate: one model's step never overlaps another's.
	OneProcess Sharing = "one-process"
)

// Sharings are the valid sharings, in the order errors list them.
var Sharings = []Sharing{TimeSlice, MPS, MIG, OneProcess}

// Valid reports whether s is one of Sharings.
func (s Sharing) Valid() bool { return slices.Contains(Sharings, s) }

// DefaultSharing is what a node does out of the box when its group names no
// sharing. Every engine serves one model per process on a GPU (vLLM, SGLang,
// TensorRT-LLM and llama-server load one model each; Ollama starts one
// runner process per loaded model), and without MPS the CUDA driver
// time-slices processes: time-slice. On a host whose servers are pinned to
// their own cores (compute_units > 1, a CPU), the processes compute at once
// and share memory bandwidth, which is what MPS does on a GPU: mps.
func DefaultSharing(hw catalog.Hardware) Sharing {
	if hw.Units() > 1 {
		return MPS
	}
	return TimeSlice
}
