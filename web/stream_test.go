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
	var cur jobs.State
	have, deltas, resyncs, largest := false, 0, 0, 0
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d deltas: %v", deltas, err)
		}
		var msg jobs.State
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Fatal(err)
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
	t.Logf("%d deltas (largest %d bytes), %d resyncs; %d states published; the complete state is %d bytes", deltas, largest, resyncs, final.Seq, len(full))
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
}
