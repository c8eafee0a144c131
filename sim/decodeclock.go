package sim

import "math"

// decodeClock is an instance's count of decode steps, from which its
// decoding requests' tokens follow (issue 18): a segment end moves the
// clock by the segment's steps instead of adding them to every request.
// A request in the decode set holds its generated and context as of the
// clock value in its own clock field; sync brings them up to date, and
// whatever reads them (finishing, preemption, SGLang's reserve, the walks
// past exact sums) syncs first. A min-heap of the clock values at which
// the requests reach their output finds the finished ones without a walk.
type decodeClock struct {
	clock int64
	fin   []finishing // min-heap by at
	// sumAt is Σ at over fin, and far the entries that had more than
	// sglClipNewTokens left when last looked at: with them SGLang's
	// reserve, Σ min(left, clip), is a sum and a short correction
	// (outputLeft), not a walk of the running requests.
	sumAt int64
	far   []finishing
}

// finishing is the clock value at which request id has generated its
// output.
type finishing struct {
	at int64
	id int32
}

// sync brings a request of the set up to date with the clock.
func (c *decodeClock) sync(r *request) {
	d := int32(c.clock - r.clock)
	r.generated += d
	r.context += d
	r.clock = c.clock
}

// minLeft is the least output still to generate over the set, MaxInt32
// for none.
func (c *decodeClock) minLeft() int32 {
	if len(c.fin) == 0 {
		return math.MaxInt32
	}
	return int32(c.fin[0].at - c.clock)
}

// join puts request id, up to date (it was not in the set), in the set.
func (ds *decodeSet) join(r *request, id int32) {
	r.clock = ds.clock
	ds.count(r.context, 1)
	f := finishing{at: ds.clock + int64(r.output-r.generated), id: id}
	ds.push(f)
	ds.sumAt += f.at
	if f.at-ds.clock > sglClipNewTokens {
		ds.far = append(ds.far, f)
	}
}

// drop takes f, leaving the set, out of the reserve's sums.
func (c *decodeClock) drop(f finishing) {
	c.sumAt -= f.at
	for i, g := range c.far {
		if g.id == f.id {
			c.far = append(c.far[:i], c.far[i+1:]...)
			return
		}
	}
}

// outputLeft is Σ min(output - generated, sglClipNewTokens) over the set:
// Σ (at - clock) less, for the entries still more than the clip from
// their end, what they have past it. Entries that came within the clip
// leave far here, so far stays as short as the long outputs running.
func (c *decodeClock) outputLeft() int64 {
	n := c.sumAt - int64(len(c.fin))*c.clock
	kept := c.far[:0]
	for _, f := range c.far {
		if over := f.at - c.clock - sglClipNewTokens; over > 0 {
			n -= over
			kept = append(kept, f)
		}
	}
	c.far = kept
	return n
}

// leave takes request id out of the set (a preemption), up to date.
func (ds *decodeSet) leave(r *request, id int32) {
	ds.sync(r)
	ds.count(r.context, -1)
	for i, f := range ds.fin {
		if f.id == id {
			ds.removeAt(i)
			ds.drop(f)
			return
		}
	}
	panic("sim: a decoding request has no finish in its decode set")
}

// advance moves the clock by a segment's steps: every request of the set
// decodes steps more tokens.
func (ds *decodeSet) advance(steps int32) {
	ds.clock += int64(steps)
	ds.tick(steps)
}

// finished takes the requests that have generated their output out of the
// set, up to date, and appends them to done (in no particular order).
func (ds *decodeSet) finished(done []int32, reqs []request) []int32 {
	for len(ds.fin) > 0 && ds.fin[0].at <= ds.clock {
		f := ds.fin[0]
		id := f.id
		ds.removeAt(0)
		ds.drop(f)
		r := &reqs[id]
		ds.sync(r)
		ds.count(r.context, -1)
		done = append(done, id)
	}
	return done
}

func (c *decodeClock) push(f finishing) {
	c.fin = append(c.fin, f)
	c.up(len(c.fin) - 1)
}

// removeAt takes the heap's i-th entry out.
func (c *decodeClock) removeAt(i int) {
	last := len(c.fin) - 1
	if i != last {
		c.fin[i] = c.fin[last]
	}
	c.fin = c.fin[:last]
	if i < last {
		c.down(i)
		c.up(i)
	}
}

func (c *decodeClock) up(i int) {
	h := c.fin
	f := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if h[p].at <= f.at {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = f
}

func (c *decodeClock) down(i int) {
	h := c.fin
	n := len(h)
	f := h[i]
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		if r := l + 1; r < n && h[r].at < h[l].at {
			l = r
		}
		if h[l].at >= f.at {
			break
		}
		h[i] = h[l]
		i = l
	}
	h[i] = f
}
