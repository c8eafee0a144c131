package web

import (
	"encoding/json"
	"github.com/fleettwin/fleettwin/jobs"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fleettwin/fleettwin/scenarios"
)

// A 100-node run streams small deltas after one complete state, and a
// viewer that applies them (fetching the state again after a gap, as the
// page does) holds exactly the server's state at the end.
func TestLargeFleetStreamsDeltas(t *testing.T) {
	ts := newTestServer(t, "", "")
	data, err := scenarios.FS.ReadFile("fleet-h100.toml")
	if err != nil {
		t.Fatal(err)
	}
	// Ten simulated minutes at 120× real time: about 50 states in 5 s
	// (longer if the machine is slow; nothing here depends on it).
	short := strings.NewReplacer("duration_s = 3600", "duration_s = 600", "warmup_s = 300", "warmup_s = 60").Replace(string(data))
	run, err := ts.Runs.Start("fleet-h100.toml", []byte(short), 120)
	if err != nil {
		t.Fatal(err)
	}
	id := run.State().ID
	if n := len(run.State().Devices); n != 100 {
		t.Fatalf("%d devices", n)
	}
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.url, "http")+"/ws/runs/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Minute)) // a hang guard
	const limit = 64 << 10
	const issueLimit = 100_000 // issue 17: every message under 100 KB
	var cur jobs.State
	have, deltas, resyncs, largest, msgs, parts := false, 0, 0, 0, 0, 0
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d deltas: %v", deltas, err)
		}
		if len(b) >= issueLimit {
			t.Errorf("message %d is %d bytes, not under %d", msgs, len(b), issueLimit)
		}
		msgs++
		if jobs.IsPart(b) {
			if !have || cur.Parts == 0 {
				t.Fatalf("a part with no head before it")
			}
			var p jobs.Part
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			parts++
			cur = cur.Fill(p)
			continue
		}
		var msg jobs.State
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Fatal(err)
		}
		if have && cur.Parts > 0 {
			t.Fatalf("message %d before the head's %d parts were in", msgs, cur.Parts)
		}
		switch {
		case !msg.Delta:
			if have {
				t.Fatalf("a complete state (%d bytes) after the first message", len(b))
			}
			cur, have = msg, true
		case msg.Seq <= cur.Seq:
			// Already in the state.
		default:
			deltas++
			largest = max(largest, len(b))
			if len(b) > limit {
				t.Errorf("delta %d is %d bytes, over %d", msg.Seq, len(b), limit)
			}
			if msg.Seq == cur.Seq+1 {
				cur = cur.Merge(msg)
				break
			}
			// A gap: the hub dropped a message for this slow reader.
			resyncs++
			_, body := ts.get(t, "/runs/"+id+"/state.json")
			var st jobs.State
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatal(err)
			}
			if st.Seq > cur.Seq {
				cur = st
			}
			if msg.Seq == cur.Seq+1 {
				cur = cur.Merge(msg)
			}
		}
		if cur.Done {
			break
		}
	}
	final := ts.wait(t, id)
	full := mustJSON(final)
	t.Logf("%d messages: %d parts on connect, %d deltas (largest %d bytes), %d resyncs; %d states published; the complete state is %d bytes", msgs, parts, deltas, largest, resyncs, final.Seq, len(full))
	if deltas == 0 || len(full) < 4*limit {
		t.Fatalf("%d deltas; complete state %d bytes: the test streams too little to mean anything", deltas, len(full))
	}
	// Both through JSON: a NaN is null on the wire, which decodes as 0.
	var want jobs.State
	if err := json.Unmarshal(full, &want); err != nil {
		t.Fatal(err)
	}
	if got, want := mustJSON(cur), mustJSON(want); string(got) != string(want) {
		t.Errorf("the state rebuilt from deltas differs from the server's: %d bytes against %d", len(got), len(want))
	}
	// A viewer that opens the finished run gets its complete state in
	// parts, each under the limit, and rebuilds it exactly.
	late, n := connectState(t, ts.url, id, issueLimit)
	if n < 2 {
		t.Errorf("the finished run's state came in %d message(s)", n)
	}
	if got, want := mustJSON(late), mustJSON(want); string(got) != string(want) {
		t.Errorf("the finished run's state rebuilt from %d parts differs from the server's: %d bytes against %d", n, len(got), len(want))
	}
}

// connectState opens a run's stream and reads its state on connect (the
// head and every part), failing on a message of limit bytes or more; it
// returns the state and how many messages carried it.
func connectState(t *testing.T, base, id string, limit int) (jobs.State, int) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws/runs/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	var st jobs.State
	for n := 1; ; n++ {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", n, err)
		}
		if len(b) >= limit {
			t.Errorf("message %d on connect is %d bytes, not under %d", n, len(b), limit)
		}
		if n == 1 {
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
		} else {
			var p jobs.Part
			if err := json.Unmarshal(b, &p); err != nil || p.Part == 0 {
				t.Fatalf("message %d on connect is not a part (%v)", n, err)
			}
			st = st.Fill(p)
		}
		if st.Parts == 0 {
			return st, n
		}
	}
}

// The shipped 100-node scenario, run whole: its finished state (0.93 MB
// compact in one message before) reaches a viewer in messages under
// 100 KB each, and fills back to the server's state.
func TestFleetH100MessagesUnder100KB(t *testing.T) {
	ts := newTestServer(t, "", "")
	data, err := scenarios.FS.ReadFile("fleet-h100.toml")
	if err != nil {
		t.Fatal(err)
	}
	run, err := ts.Runs.Start("fleet-h100.toml", data, 0)
	if err != nil {
		t.Fatal(err)
	}
	final := ts.wait(t, run.State().ID)
	whole := len(run.State().WireParts(1 << 40)[0])
	got, n := connectState(t, ts.url, final.ID, 100_000)
	t.Logf("the finished state: %d bytes whole, %d messages on connect", whole, n)
	if whole < 100_000 || n < 2 {
		t.Fatalf("the state is %d bytes, sent in %d message(s): the test shows nothing", whole, n)
	}
	var want jobs.State
	if err := json.Unmarshal(mustJSON(final), &want); err != nil {
		t.Fatal(err)
	}
	if g, w := mustJSON(got), mustJSON(want); string(g) != string(w) {
		t.Errorf("the state filled from %d messages differs from the server's: %d bytes against %d", n, len(g), len(w))
	}
}
