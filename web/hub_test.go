package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func hubServer(t testing.TB) (*Hub, *httptest.Server) {
	t.Helper()
	h := NewHub()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeWS(w, r, r.URL.Query().Get("topic"))
	}))
	t.Cleanup(srv.Close)
	return h, srv
}

func dial(t testing.TB, srv *httptest.Server, topic string) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/?topic=" + topic
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type seqMsg struct {
	Seq int    `json:"seq"`
	Pad string `json:"pad,omitempty"`
}

func msg(seq int, pad int) []byte {
	b, _ := json.Marshal(seqMsg{Seq: seq, Pad: strings.Repeat("x", pad)})
	return b
}

// readUntil reads messages until one has seq >= want, checking that
// sequence numbers only grow (newest-wins never reorders).
func readUntil(t testing.TB, c *websocket.Conn, want int) []int {
	t.Helper()
	var seen []int
	c.SetReadDeadline(time.Now().Add(20 * time.Second)) // a hang guard, not a timing assertion
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %v: %v", seen, err)
		}
		var m seqMsg
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if len(seen) > 0 && m.Seq <= seen[len(seen)-1] {
			t.Fatalf("seq %d after %v", m.Seq, seen)
		}
		seen = append(seen, m.Seq)
		if m.Seq >= want {
			return seen
		}
	}
}

func waitClients(t testing.TB, h *Hub, topic string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); h.Clients(topic) != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients on %s, want %d", h.Clients(topic), topic, n)
		}
	}
}

func TestHubHundredViewers(t *testing.T) {
	h, srv := hubServer(t)
	const n, last = 100, 500
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = dial(t, srv, "run")
	}
	waitClients(t, h, "run", n)
	go func() {
		for i := 1; i <= last; i++ {
			h.Publish("run", msg(i, 64))
		}
	}()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			readUntil(t, c, last)
		}()
	}
	wg.Wait()
}

// A client that never reads fills its socket buffers; the publisher and
// the other viewers carry on, and the stuck one is dropped at its write
// deadline.
func TestHubSlowClientDoesNotHoldOthers(t *testing.T) {
	h, srv := hubServer(t)
	// Short timings, so the stuck client goes at its write deadline or,
	// if its buffers never fill, when it fails to answer a ping.
	h.writeWait, h.pongWait = 200*time.Millisecond, time.Second
	stuck := dial(t, srv, "run")
	_ = stuck // never read
	fast := dial(t, srv, "run")
	waitClients(t, h, "run", 2)
	const last = 2000
	done := make(chan struct{})
	go func() {
		for i := 1; i <= last; i++ {
			h.Publish("run", msg(i, 32<<10)) // 64 MB in all: far beyond any socket buffer
		}
		close(done)
	}()
	seen := readUntil(t, fast, last)
	go func() { // keep reading, so the fast client answers pings
		for {
			if _, _, err := fast.ReadMessage(); err != nil {
				return
			}
		}
	}()
	<-done
	if len(seen) == last {
		t.Logf("the fast client kept up with every message")
	}
	waitClients(t, h, "run", 1) // the stuck client is gone; the fast one stays
}

func TestHubReconnectResumes(t *testing.T) {
	h, srv := hubServer(t)
	c := dial(t, srv, "run")
	waitClients(t, h, "run", 1)
	h.Publish("run", msg(5, 0))
	readUntil(t, c, 5)
	c.Close()
	waitClients(t, h, "run", 0)
	h.Publish("run", msg(6, 0))
	h.Publish("run", msg(7, 0))
	c2 := dial(t, srv, "run")
	if seen := readUntil(t, c2, 7); !slices.Equal(seen, []int{7}) {
		t.Errorf("after reconnecting: %v, want the last state [7] first", seen)
	}
	// Other topics are not affected.
	if h.Last("other") != nil {
		t.Error("a topic nobody published on has a last message")
	}
}

func TestHubRefusesOtherOrigins(t *testing.T) {
	_, srv := hubServer(t)
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/?topic=run"
	_, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin upgrade: %v, %v; want 403", err, resp)
	}
	c, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {srv.URL}})
	if err != nil {
		t.Errorf("same-origin upgrade refused: %v", err)
	} else {
		c.Close()
	}
}

// BenchmarkHubFanOut publishes snapshot-sized states to 100 clients and
// reports the states delivered per second (to all clients together) and
// the delay from Publish to the last client's read, p99.
func BenchmarkHubFanOut(b *testing.B) {
	h, srv := hubServer(b)
	const n = 100
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = dial(b, srv, "run")
	}
	waitClients(b, h, "run", n)
	payload := strings.Repeat("x", 20<<10) // a run page's state is about 20 kB
	var delays []time.Duration
	delivered := 0
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		h.Publish("run", []byte(fmt.Sprintf(`{"seq":%d,"pad":%q}`, i+1, payload)))
		for _, c := range conns {
			readUntil(b, c, i+1)
			delivered++
		}
		delays = append(delays, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(delays)
	b.ReportMetric(float64(delivered)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1e3, "p99-ms")
}
