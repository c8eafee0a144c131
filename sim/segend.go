package sim

import (
	"cmp"
	"slices"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/scenario"
)

// join appends request id to the instance's running requests, the order
// results depend on (first come first served, preemption, prompt chunks).
func (in *instance) join(r *request, id int32) {
	r.joined = in.joins
	in.joins++
	in.running = append(in.running, id)
}

// endSegment applies a finished segment's tokens and plans the next one.
// It costs the segment's prompt chunks and finished requests, not a walk
// over the batch: the decoding requests take the run's tokens on the
// decode clock (decodeclock.go).
func (s *simulator) endSegment(in *instance, now engine.Time) {
	d := s.devs[in.node]
	d.advance(now, s.insts)
	d.stop(in)
	seg := &in.seg
	wall := (now - seg.start).Seconds()
	m := s.models[in.model]
	steps := int32(seg.steps)
	decodes := 0
	if seg.decodes {
		decodes = in.dec.n
		in.dec.advance(steps)
	}
	done := in.dec.finished(s.done[:0], s.reqs)
	if len(done) > 0 && in.role == scenario.RolePrefill {
		panic("sim: a prefill instance kept a decoding request")
	}
	// Prompt chunks land (in running order: startWork appends both in
	// step); a request whose prompt is done yields its first token.
	ship := s.ship[:0]
	for _, c := range seg.prefill {
		r := &s.reqs[c.id]
		r.prefilled += c.n
		r.context += c.n
		if in.pc != nil {
			s.register(in, c.id) // its computed blocks are shared from now (prefix.go)
		}
		if !r.decoding() {
			continue
		}
		in.prefillLeft -= clipLeft(r) // its prompt is done
		r.generated++                 // the prefill's last position yields a token
		if r.first < 0 {
			r.first = now
		}
		switch {
		case r.generated >= r.output:
			done = append(done, c.id)
		case in.role == scenario.RolePrefill:
			ship = append(ship, c.id) // the first token is out: the KV goes to a decoder
		default:
			in.dec.join(r, c.id)
		}
	}
	if len(done) > 1 {
		slices.SortFunc(done, func(a, b int32) int { return cmp.Compare(s.reqs[a].joined, s.reqs[b].joined) })
	}
	s.leaveRunning(in, done, ship)
	if in.prefillFirst && decodes > 0 {
		in.tokenRatio = max(in.tokenRatio-sglRatioDecay*float64(steps), sglMinRatio)
	}
	if decodes > 0 && now >= s.sc.Warmup {
		m.stats.itl.AddWeighted(chunkGaps(in, seg, wall, decodes))
	}
	if now >= s.sc.Warmup {
		var prompt float64
		for _, c := range seg.prefill {
			prompt += float64(c.n)
		}
		gen := float64(decodes) * float64(steps)
		if prompt+gen > 0 {
			in.prefillSec += wall * prompt / (prompt + gen)
			in.decodeSec += wall * gen / (prompt + gen)
		}
	}
	for _, id := range done {
		s.releaseBlocks(in, id)
		s.finish(in, id, now, false)
	}
	for _, id := range ship {
		s.handoff(in, id, now) // disagg.go
	}
	freed := len(done) > 0
	s.done, s.ship = done[:0], ship[:0]
	if len(d.busy) > 0 {
		d.reshare(s, now)
		s.startWork(in, now)
	} else if s.startWork(in, now); !in.busy {
		// Nothing else on the device runs, so a reshare before the next
		// segment starts would only set the idle draw, which the start's
		// reshare overwrites at the same instant (and which is below the
		// peak already: the device starts idle). Reshare only if none
		// starts.
		d.reshare(s, now)
	}
	if d.node.DynamicMemory && freed {
		// Blocks went back to the shared pool: idle neighbours that were
		// waiting for them may run now.
		for _, i := range d.insts {
			if o := s.insts[i]; !o.busy && o.outstanding > 0 {
				s.startWork(o, now)
			}
		}
	}
}

// leaveRunning takes the requests of a and b, each in running order, out
// of the instance's running requests, keeping the others' order. Running
// order is join order, so each leaver is found by bisection on its join
// stamp and the requests between two leavers move down in one copy: a
// finish costs a memmove, not a walk of the batch.
func (s *simulator) leaveRunning(in *instance, a, b []int32) {
	if len(a)+len(b) == 0 {
		return
	}
	run := in.running
	w, r := -1, 0 // write and read positions; w < 0 until the first leaver
	for len(a)+len(b) > 0 {
		var id int32
		if len(b) == 0 || len(a) > 0 && s.reqs[a[0]].joined < s.reqs[b[0]].joined {
			id, a = a[0], a[1:]
		} else {
			id, b = b[0], b[1:]
		}
		stamp := s.reqs[id].joined
		lo, hi := r, len(run)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if s.reqs[run[m]].joined < stamp {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo == len(run) || run[lo] != id {
			panic("sim: a request leaving is not running in its order")
		}
		if w < 0 {
			w = lo
		} else {
			w += copy(run[w:], run[r:lo])
		}
		r = lo + 1
	}
	w += copy(run[w:], run[r:])
	in.running = run[:w]
}
