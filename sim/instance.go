package sim

import (
	"math/bits"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

// request is one request's state while it is in the system.
type request struct {
	model    int32
	class    int32
	instance int32
	user     int32 // closed-loop user, or -1
	arrival  engine.Time
	admitted engine.Time // first admission, or -1
	first    engine.Time // first token, or -1
	input    int32
	output   int32
	// prompt is what must be prefilled: the input, or after a preemption the
	// input plus the tokens generated so far (recompute).
	prompt      int32
	prefilled   int32 // of prompt
	generated   int32
	context     int32 // tokens in the KV cache
	preemptions int32
	seq         int64 // arrival order, for FCFS tie-breaks
	// While the request decodes on an instance, generated and context
	// are as of that instance's decode clock reading clock
	// (decodeclock.go).
	clock int64
	// joined orders the instance's running requests: they are kept in the
	// order they joined, which finishing requests are put back in.
	joined  int64
	counted bool // arrived after warm-up
}

// decoding reports whether the request is past its prefill.
func (r *request) decoding() bool { return r.prefilled == r.prompt }

// segment is the work an instance is executing: one step (when it holds
// prefill) or a run of identical-composition decode steps.
type segment struct {
	run      decodeRun
	steps    int  // planned steps
	decode   bool // a decode-only run, which may be cut short
	decodes  bool // decoding requests take part (false for a prefill-only step)
	prefill  []prefillChunk
	start    engine.Time // wall time the segment began
	alone    float64     // seconds the steps take with the device to itself
	progress float64     // alone-seconds done as of updated
	updated  engine.Time
	slowdown float64 // current factor over the alone time: contention × theta
	theta    float64 // the throttled clock's stretch of the alone time
	end      engine.EventID
	demandC  float64 // share of the alone time the tensor cores are busy
	demandM  float64 // share of the alone time the memory system is busy
	demandG  float64 // share of the alone time kernels run (all but the overhead)
	flops    float64 // work of the whole segment
	bytes    float64
	// thetaAt is theta at clock thetaClock (0: not priced since plan).
	thetaAt, thetaClock float64
}

type prefillChunk struct {
	id int32
	n  int32
}

// instance is one model server: continuous batching over a waiting queue,
// KV blocks, chunked prefill, preemption by recompute.
type instance struct {
	idx   int
	node  int
	model int
	cfg   scenario.NodeInstance
	cost  StepCoster
	pair  pairCoster // cost as a pairCoster, nil where it is none
	// steps and stepCPU are cost taken apart where it is a step model,
	// maybe wrapped with the scheduler's CPU time (servingCost): a decode
	// run's pricing calls the model itself (decodeSteps). nil otherwise.
	steps   *perf.StepModel
	stepCPU *perf.Serving
	peak    float64 // FLOP/s of the device in the instance's compute dtype (MFU)
	// smShare is the share of the SMs the instance may use under MPS (its
	// mps_active_thread_pct), 1 uncapped.
	smShare float64
	blockKV float64 // bytes of one KV block
	// Static memory: the instance's own block pool.
	blocksTotal int64
	blocksUsed  int64
	waiting     waitQueue
	running     []int32
	joins       int64     // requests that have joined running, for request.joined
	dec         decodeSet // sums over the running requests that decode (decodeset.go)
	busy        bool
	seg         segment
	outstanding int // running + waiting (+ entering through front), for routers
	// front is the API server requests pass before the waiting queue; nil
	// where the profile adds no front-end time (see frontend.go).
	front *frontEnd
	// prefillFirst: a step with prompt chunks runs no decodes (SGLang).
	prefillFirst bool
	// tokenRatio is SGLang's new_token_ratio on a prefill-first instance:
	// the share of their remaining output that running requests are still
	// expected to need, which admission keeps free (see reserve.go).
	tokenRatio float64
	// prefillLeft is Σ min(output - generated, sglClipNewTokens) over the
	// running requests still in their prompt (not in dec): with
	// dec.outputLeft, SGLang's reserve without a walk (reserve.go).
	prefillLeft int64
	// Wall seconds of segments that ended after warm-up, split between
	// prompt and generated tokens by token count: what cost and energy are
	// shared out by.
	prefillSec, decodeSec float64
	// kvPort is the instance's part in disaggregated serving (disagg.go).
	kvPort
	// pc is the instance's prefix cache, nil without one; pool the memory
	// cached blocks are evicted from when it allocates, nil where none
	// are cached (prefix.go).
	pc   *prefixCache
	pool *kvPool
}

// StepCoster is what the simulator needs of a performance model: the cost of
// one step. *perf.StepModel implements it.
type StepCoster interface {
	Step(perf.Batch) perf.StepCost
}

// blocksFor is the number of KV blocks tokens occupy. It runs for every
// request of every step the simulator plans, so the usual power-of-two
// block sizes take a shift instead of a division.
func blocksFor(tokens, blockTokens int32) int64 {
	if blockTokens&(blockTokens-1) == 0 {
		return int64((tokens + blockTokens - 1) >> bits.TrailingZeros32(uint32(blockTokens)))
	}
	return int64((tokens + blockTokens - 1) / blockTokens)
}

// enqueue adds a request to the waiting queue.
func (in *instance) enqueue(id int32) {
	in.waiting.push(id)
	in.outstanding++
}
