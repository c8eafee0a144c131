package scenario

import "slices"

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
)

// Routers are the valid routers, in the order errors list them.
var Routers = []Router{RoundRobin, LeastOutstanding, PowerOfTwo}

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
