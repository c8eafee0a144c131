package sim

import (
	"fmt"
	"math/rand/v2"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/workload"
)

// What requests share and how long they answer (workload/traffic.go),
// applied to each request as it arrives (shape):
//
//   - A shared prefix: a share of the requests (or of the sessions) start
//     with one of the model's system prompts, drawn uniformly; its tokens
//     come before the sampled input, so the prompt is prefix + input.
//   - Sessions: every open-loop arrival, or closed-loop user with no
//     conversation going, opens a session of a drawn number of turns.
//     Each later turn is sent an exponential think time after the previous
//     answer and carries the whole conversation so far (the last prompt
//     and its answer) followed by a newly sampled input; it keeps the
//     session's class and system prompt. A session ends after its turns,
//     when a turn is rejected, or when its context reaches the model's
//     context length.
//   - Thinking: a share of the requests answer in thinking mode, their
//     output (reasoning and answer) drawn from the thinking distribution;
//     reasoning tokens are generated like any other: they take decode
//     steps and count in TPOT, E2E and output tokens. The answer is the
//     output the request would have had without thinking (at most the
//     whole output), and a session's next turn carries only it, as
//     Qwen3's chat template drops the reasoning from the history: the
//     cache then serves that turn no further than the thinking turn's
//     prompt.
//
// The draws come from their own streams (traffic/, session-think/), so a
// scenario without these tables draws exactly as before.
//
// Each request's token identity is what the prefix cache hashes (hashOf):
// its system prompt's blocks hash by group, the rest by session (every
// turn of a conversation extends the same token sequence) or by request,
// and a trace's hash ids (Mooncake) override both where they reach.

// evTurn: a session's next turn is sent (target: session).
const evTurn = evKVArrive + 1

// traffic is the per-request and per-session state behind shape, and the
// per-model prefix cache counts; nil when no model shapes its traffic and
// no instance caches.
type traffic struct {
	px       []reqPrefix // by request id
	models   []trafficModel
	sessions []session
	spare    []int32 // ended sessions
	pending  int32   // the session whose turn arrive is creating, or -1
	users    []int32 // closed-loop user's session, or -1
	serial   uint64  // sessions opened
}

type trafficModel struct {
	prefix     *workload.SharedPrefix
	sessions   *workload.Sessions
	turns      *workload.LengthSampler
	thinking   *workload.Thinking
	thinkOut   *workload.LengthSampler
	rng        *rand.Rand // prefix groups, turns, thinking
	rngThink   *rand.Rand // think time between turns
	maxContext int32
	// cached: an instance of the model has the cache; the token counts of
	// first admissions on them, and the part the cache served.
	cached                  bool
	lookupTokens, hitTokens int64
}

// session is one conversation in progress.
type session struct {
	model, class int32
	group        int32 // system prompt, -1 none
	groupTokens  int32
	// uid identifies the conversation's tokens past cuts; each cut ends
	// a stretch whose tokens a thinking turn's answer replaced.
	uid       uint64
	cuts      []cut
	context   int32 // tokens of the conversation so far
	turnsLeft int32
}

// cut is a stretch of a session's tokens, up to limit, identified by uid.
type cut struct {
	limit int32
	uid   uint64
}

// reqPrefix is what the prefix cache knows of a request: where its tokens
// come from, the cached blocks it references (in block order), and its
// last lookup.
type reqPrefix struct {
	group       int32
	groupTokens int32
	content     uint64 // identity of its tokens past the system prompt and cuts
	cuts        []cut
	trace       []uint64
	traceBT     int32
	session     int32
	answer      int32 // a thinking request's answer tokens, 0 if it does not think
	pins        []int32

	memoInst    int32
	memoVersion uint64
	memoPrompt  int32
	memoHit     int32
	memoFree    int64
}

// Hash salts keep the kinds of identity apart.
const (
	saltGroup   = 0x9e3779b97f4a7c15
	saltRequest = 0xbf58476d1ce4e5b9
	saltSession = 0x94d049bb133111eb
	saltTrace   = 0x2545f4914f6cdd1d
)

// mix is splitmix64's finalizer over a combined with b.
func mix(a, b uint64) uint64 {
	z := a ^ (b+0x9e3779b97f4a7c15)*0xbf58476d1ce4e5b9
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// hashOf identifies block j (of bt tokens) of the request's token
// sequence: equal hashes mean equal tokens up to the block's end.
func (x *reqPrefix) hashOf(j, bt int32) uint64 {
	end := (j + 1) * bt
	if x.trace != nil {
		// The trace block holding the block's last token fixes every token
		// up to it (Mooncake's ids are chained).
		if t := (end - 1) / x.traceBT; int(t) < len(x.trace) {
			return mix(x.trace[t]^saltTrace, uint64(j))
		}
	}
	if x.group >= 0 && end <= x.groupTokens {
		return mix(saltGroup^uint64(x.group), uint64(j))
	}
	for _, c := range x.cuts {
		if end <= c.limit {
			return mix(c.uid, uint64(j))
		}
	}
	return mix(x.content, uint64(j))
}

// mooncakeBlockTokens is the block size of Mooncake's published traces,
// for records that give hash ids without one.
const mooncakeBlockTokens = 512

// setupTraffic builds the traffic state when a model shapes its traffic,
// replays hash ids, or an instance caches.
func (s *simulator) setupTraffic() error {
	need := false
	for _, in := range s.insts {
		need = need || in.cfg.PrefixCaching
	}
	for _, m := range s.sc.Models {
		need = need || m.Workload.Prefix != nil || m.Workload.Sessions != nil || m.Workload.Thinking != nil || m.Shares()
	}
	if !need {
		return nil
	}
	t := &traffic{pending: -1, models: make([]trafficModel, len(s.models))}
	for i, m := range s.models {
		w := m.spec.Workload
		tm := &t.models[i]
		tm.prefix, tm.sessions, tm.thinking = w.Prefix, w.Sessions, w.Thinking
		tm.rng = s.streams.Stream("traffic/" + m.spec.Name)
		tm.rngThink = s.streams.Stream("session-think/" + m.spec.Name)
		tm.maxContext = int32(workload.MaxTokens)
		if c := m.spec.Catalog.MaxPositionEmbeddings; c > 0 && c < workload.MaxTokens {
			tm.maxContext = int32(c)
		}
		var err error
		if w.Sessions != nil {
			if tm.turns, err = workload.NewLengthSampler(w.Sessions.Turns, nil); err != nil {
				return fmt.Errorf("model %s: session turns: %w", m.spec.Name, err)
			}
		}
		if w.Thinking != nil {
			if tm.thinkOut, err = workload.NewLengthSampler(w.Thinking.Output, nil); err != nil {
				return fmt.Errorf("model %s: thinking output: %w", m.spec.Name, err)
			}
		}
	}
	for _, in := range s.insts {
		if in.pc != nil {
			t.models[in.model].cached = true
		}
	}
	s.tr = t
	return nil
}

// shape applies the model's shared prefix, session and thinking to a new
// request (see above), and records where its tokens come from.
func (s *simulator) shape(m *modelState, id, user int32) {
	t := s.tr
	for int(id) >= len(t.px) {
		t.px = append(t.px, reqPrefix{})
	}
	x := &t.px[id]
	*x = reqPrefix{group: -1, session: -1, pins: x.pins[:0], memoInst: -1}
	r := &s.reqs[id]
	x.content = mix(saltRequest, uint64(r.seq))
	if m.spec.Workload.Arrival.Process == workload.Trace && m.trace > 0 {
		if rec := &m.spec.Trace[m.trace-1]; len(rec.HashIDs) > 0 {
			x.trace, x.traceBT = rec.HashIDs, int32(rec.HashBlockTokens)
			if x.traceBT <= 0 {
				x.traceBT = mooncakeBlockTokens
			}
		}
	}
	tm := &t.models[m.idx]
	input := int64(r.input)
	switch {
	case tm.sessions != nil:
		sid := t.pending
		t.pending = -1
		if user >= 0 {
			for int(user) >= len(t.users) {
				t.users = append(t.users, -1)
			}
			sid = t.users[user]
		}
		if sid < 0 {
			sid = t.open(m, tm, r)
		}
		if user >= 0 {
			t.users[user] = sid
		}
		ss := &t.sessions[sid]
		x.session, x.content, x.cuts, x.group, x.groupTokens = sid, ss.uid, ss.cuts, ss.group, ss.groupTokens
		r.class = ss.class
		input += int64(ss.context)
	case tm.prefix != nil && tm.rng.Float64() < tm.prefix.Share:
		x.group, x.groupTokens = int32(tm.rng.IntN(tm.prefix.Groups)), int32(tm.prefix.Tokens)
		input += int64(tm.prefix.Tokens)
	}
	if tm.thinking != nil && tm.rng.Float64() < tm.thinking.Share {
		answer := r.output
		r.output = int32(min(max(tm.thinkOut.Sample(tm.rng), 1), workload.MaxTokens))
		x.answer = min(answer, r.output)
	}
	r.input = int32(min(input, workload.MaxTokens))
	r.prompt = r.input
}

// open starts a session for a request of model m: its turns, class and
// system prompt.
func (t *traffic) open(m *modelState, tm *trafficModel, r *request) int32 {
	ss := session{model: int32(m.idx), class: r.class, group: -1, uid: mix(saltSession, t.serial)}
	t.serial++
	ss.turnsLeft = int32(min(max(tm.turns.Sample(tm.rng), 1), workload.MaxTurns))
	if p := tm.prefix; p != nil && tm.rng.Float64() < p.Share {
		ss.group, ss.groupTokens = int32(tm.rng.IntN(p.Groups)), int32(p.Tokens)
		ss.context = ss.groupTokens
	}
	var sid int32
	if n := len(t.spare); n > 0 {
		sid = t.spare[n-1]
		t.spare = t.spare[:n-1]
		t.sessions[sid] = ss
	} else {
		t.sessions = append(t.sessions, ss)
		sid = int32(len(t.sessions) - 1)
	}
	return sid
}

// endTurn follows a finished request of a session: the conversation grows
// by its prompt and answer, and its next turn is scheduled a think time
// later. It reports whether one was (a closed-loop user then waits for
// it rather than starting anew).
func (s *simulator) endTurn(m *modelState, id int32, now engine.Time, rejected bool) bool {
	t := s.tr
	x := &t.px[id]
	sid := x.session
	if sid < 0 {
		return false
	}
	x.session = -1
	r := &s.reqs[id]
	ss := &t.sessions[sid]
	tm := &t.models[m.idx]
	ss.turnsLeft--
	ss.context = int32(min(int64(r.input)+int64(r.output), workload.MaxTokens))
	if x.answer > 0 {
		// The next turn carries the answer without the reasoning (Qwen3's
		// chat template drops it): the tokens past the prompt are new.
		ss.context = int32(min(int64(r.input)+int64(x.answer), workload.MaxTokens))
		ss.cuts = append(ss.cuts[:len(ss.cuts):len(ss.cuts)], cut{limit: r.input, uid: ss.uid})
		ss.uid = mix(saltSession, t.serial)
		t.serial++
	}
	if rejected || ss.turnsLeft <= 0 || ss.context >= tm.maxContext {
		if r.user >= 0 {
			t.users[r.user] = -1
		}
		t.spare = append(t.spare, sid)
		return false
	}
	at := now
	if think := tm.sessions.ThinkS; think > 0 {
		at += engine.FromSeconds(engine.Exponential(tm.rngThink, think))
	}
	if at >= s.sc.Duration {
		return true
	}
	if r.user >= 0 {
		s.sim.Schedule(at, event{kind: evUser, target: r.user})
	} else {
		s.sim.Schedule(at, event{kind: evTurn, target: sid})
	}
	return true
}

// nextTurn is evTurn: the session's next request arrives.
func (s *simulator) nextTurn(sid int32, now engine.Time) {
	s.tr.pending = sid
	s.arrive(s.models[s.tr.sessions[sid].model], now, -1)
}
