// Package sim is fleettwin's digital twin: a deterministic discrete-event
// simulation of LLM serving on a fleet, built on engine and perf.
//
// Each model instance does vLLM-style continuous batching: a waiting queue
// (by priority class, then arrival), admission bounded by max sequences, the
// per-step token budget and free KV blocks, chunked prefill mixing prompt
// chunks with decode tokens, and preemption by recompute when KV blocks run
// out. Instances on one device share its memory (fixed shares or one pool)
// and its compute and bandwidth as the node's sharing says: time-slice
// (the CUDA default: contexts take turns on the GPU, paying a switch
// cost), mps (kernels run at once; compute and bandwidth demands add, as
// far as the profile's contention coefficients say, within each instance's
// SM cap), mig (hard partitions that never slow each other, each instance
// computing on its partition) or one-process (one server whose models'
// steps alternate). More urgent instances (lower priority) take the device
// first. A lone instance runs exactly as the single-instance model says
// under every sharing (under MPS, within its SM cap).
//
// A batch whose composition does not change (decode only, no admission, no
// completion) advances many steps in one event, in closed form, so events
// scale with arrivals and completions rather than with tokens.
//
// The package does no I/O and reads no clock: pacing to real time and
// writing records happen through Options, at the caller's edge.
//
// # Reading guide
//
// Start with [Run] in sim.go, then follow one request through the files
// below in the order the events meet it.
//
//   - sim.go: the event loop. [Options], the event kinds, the simulator's
//     state, newSimulator (one modelState per served model, one device per
//     node, or per group of a node of several devices, one instance per
//     model on a node, its step model built on the
//     hardware it computes on: under MIG its partition), the run loop that
//     advances the engine one snapshot window at a time, and handle, which
//     dispatches every event. The governors' control loop (armControl,
//     sleepControl, evControl) is here too.
//   - arrivals.go: where requests come from and go to. scheduleArrival
//     draws a model's next open-loop or trace arrival; arrive samples the
//     lengths and class, routes the request and wakes the instance;
//     finish records a completed or rejected request and, for a
//     closed-loop user, schedules its next request after the think time.
//     tape.go: [Tapes], open-loop streams recorded once and replayed by
//     runs of the same workloads on other fleets (the planner's trials).
//   - sessions.go: what requests share and how long they answer (shape,
//     called by arrive): a shared system prompt, conversations whose turns
//     (evTurn) carry their context, thinking; and each request's token
//     identity (hashOf) that the prefix cache names blocks by.
//   - route.go: the routers (round-robin, power-of-two, least-outstanding);
//     prefix_route.go: prefix-affinity.
//   - batch.go: continuous batching. startWork plans an idle instance's
//     next segment (decode tokens, prefill chunks, admissions), using
//     planDecodeRun for a run of identical decode steps; truncate cuts a
//     run short when a new request becomes admissible; endSegment applies
//     a finished segment's tokens, completes requests and plans again.
//   - frontend.go: the engine's own time from a profile's [serving] table:
//     each instance's front end (a FIFO server of finite throughput plus a
//     latency, evFrontend when a request reaches the waiting queue) and the
//     scheduler's CPU time per step (servingCost). Absent or zero terms
//     leave arrivals and steps exactly as without them. batch.go's
//     prefill-first policy (SGLang) runs no decodes in steps with prompt
//     chunks.
//   - kv.go: KV blocks (free, take, return, whether a request can ever
//     fit) and preemption by recompute.
//   - prefix.go: prefix caching: each instance's table of cached blocks by
//     hash, lookups on admission, blocks entering the cache as prompts run
//     and requests end, LRU eviction from the instance's or the dynamic
//     device's pool, and the hit rate.
//   - reserve.go: SGLang's admission rule for prefill-first instances:
//     the KV room kept for running requests' output (new_token_ratio).
//   - instance.go: the per-request and per-instance state: request,
//     waitQueue, segment, instance, blocksFor.
//   - run_cost.go: decodeRun, the closed-form cost of k decode steps that
//     lets one event stand for many steps.
//   - speculative.go: speculative decoding's decode runs (each step 1/E of
//     a round, one token per sequence) and its ITL per streamed chunk.
//   - device.go: a device shared by instances: reshare (each busy
//     segment's progress, slowdown and end), clock governors (power cap,
//     temperature), and the integrals behind every device figure and time
//     series.
//   - parallel.go: nodes of several devices (a node type): each instance's
//     tp × pp devices (and the idle rest) are one device of the simulator,
//     in lockstep, its energy × its devices; a node's result merges them.
//   - sharing.go: the sharing rules reshare applies: what each busy
//     segment asks of the device (demand) and the slowdown each mode and
//     priority give it, including +Inf for a starved segment, which gets
//     no end event until the next reshare.
//   - stats.go, results.go: per-request records, latency sketches, and the
//     [Result] a run returns.
//   - throttle.go: [PriceThrottling], the rerun at full clock that prices
//     throttling. replicas.go: [RunReplicas] and its confidence intervals.
//   - split.go, split_key.go, split_run.go, split_merge.go, split_sync.go:
//     split runs.
//     Models on disjoint nodes run as parts, one simulator and goroutine
//     each (Options.Workers), merged into the serial run's result.
//
// # The life of a request
//
// An evArrival (open loop, trace) or evUser (closed loop) event calls
// arrive: the request gets its lengths and class from the model's own
// random streams, is routed to an instance and joins its waiting queue (or
// is rejected at once if it could never fit an empty instance). If the
// instance is idle, startWork admits it into a segment and the device
// schedules the segment's end (evSegmentEnd); if the instance is in a
// decode run that the request could join, truncate ends the run after the
// step in progress. At evSegmentEnd, endSegment adds the segment's tokens:
// a request whose prompt is all prefilled yields its first token, then one
// per decode step; when it has generated its output its KV blocks return
// and finish records it. When blocks run out, preempt evicts the
// lowest-priority, latest request, which rejoins the queue in its original
// place and recomputes its context. evSnapshot, evControl, evArm and
// evWarmup move no request: they report, govern the clocks and mark the
// end of warm-up.
//
// # Invariants
//
//   - Deterministic: a scenario and its seed give the same result, byte
//     for byte. Every random draw comes from a named engine.Streams stream
//     (arrivals/, lengths/, classes/, router/, think/ per model), so adding
//     a draw in one place does not shift the others, and events at the
//     same time run in the order they were scheduled.
//   - No wall clock and no I/O: time is engine.Time, simulated
//     nanoseconds. Pacing to real time (Options.Pacer) and writing
//     records (Options.OnRequest, Options.OnSnapshot) are the caller's.
//   - Independent of GOMAXPROCS: RunReplicas runs replicas in parallel
//     but each has its own simulator and the results come back in replica
//     order. A split run (split.go) is the serial run, byte for byte: each
//     part handles its events in the serial order restricted to it (its
//     events are scheduled in the same relative order, by induction; every
//     random stream is its model's), and the merge rebuilds what spans the
//     parts in the serial order: results by model and node index, Little's
//     law's integral over the union of the parts' instants, the sojourn
//     sum and the records in the order of each event's ancestry
//     (split_key.go). The governors' loop ticks in every part, its two
//     decisions (tick again, or sleep until when) taken for the whole
//     fleet at a rendezvous (split_sync.go). Where the order cannot be
//     told (ancestors' times tying to keyDepth levels), or one part's draw
//     would wake the sleeping governors of all, the run is the serial
//     one, which skips the records and snapshots the split run already
//     delivered. So the output is the same on any number of cores and any
//     Workers.
//   - Conservation: Little's law holds to rounding on every run (see
//     [LittleCheck]), and a device never holds more KV blocks than it has.
package sim
