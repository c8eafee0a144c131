package web

import (
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Default timings of the websocket connections. A client that does not
// answer a ping within pongWait is dropped; a write that takes longer
// than writeWait drops it too, so one stuck browser never holds a
// goroutine of the publisher.
const (
	defaultWriteWait = 5 * time.Second
	defaultPongWait  = 30 * time.Second
)

// Hub fans messages out to websocket clients by topic. Every client has
// one writer goroutine and a one-message slot: a newer message replaces
// an unsent older one, so a slow browser sees fewer updates but never
// slows the publisher or the other viewers. Messages are complete states,
// which is what makes dropping safe, except on topics served with
// ServeWSFrom, whose receivers detect a gap and fetch the state again. The last message of a
// topic is kept and sent to every new subscriber: a reconnecting page
// resumes where the run is, without a reload.
type Hub struct {
	mu     sync.Mutex
	topics map[string]map[*client]struct{}
	last   map[string][]byte

	upgrader            websocket.Upgrader
	writeWait, pongWait time.Duration
}

// NewHub returns a hub whose websocket upgrades accept only same-origin
// pages (and clients that send no Origin, like Go's): see sameOrigin.
func NewHub() *Hub {
	h := &Hub{topics: map[string]map[*client]struct{}{}, last: map[string][]byte{}, writeWait: defaultWriteWait, pongWait: defaultPongWait}
	h.upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 16 << 10, CheckOrigin: sameOrigin}
	return h
}

// Publish sends msg to every subscriber of topic without waiting for any.
func (h *Hub) Publish(topic string, msg []byte) {
	h.mu.Lock()
	h.last[topic] = msg
	for c := range h.topics[topic] {
		c.offer(msg)
	}
	h.mu.Unlock()
}

// Last returns the last message published on topic, or nil.
func (h *Hub) Last(topic string) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last[topic]
}

// Clients is the number of connected subscribers of topic.
func (h *Hub) Clients(topic string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.topics[topic])
}

// ServeWS upgrades the request and subscribes the connection to topic
// until either side closes it. The topic's last message is sent first.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, topic string) {
	h.ServeWSFrom(w, r, topic, nil)
}

// ServeWSFrom is ServeWS for a topic whose messages are not complete by
// themselves (deltas): first, called once the connection is subscribed,
// returns the complete state, in as many messages as it takes (a large
// fleet's in parts, see jobs.State.WireParts), written in order before
// any message published since.
func (h *Hub) ServeWSFrom(w http.ResponseWriter, r *http.Request, topic string, first func() [][]byte) {
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &client{conn: conn, wake: make(chan struct{}, 1), done: make(chan struct{}), writeWait: h.writeWait, pongWait: h.pongWait}
	h.mu.Lock()
	if h.topics[topic] == nil {
		h.topics[topic] = map[*client]struct{}{}
	}
	h.topics[topic][c] = struct{}{}
	if last := h.last[topic]; last != nil && first == nil {
		c.offer(last)
	}
	h.mu.Unlock()
	var msg [][]byte
	if first != nil {
		msg = first()
	}

	go c.writeLoop(msg)
	c.readLoop() // returns when the peer goes away
	h.mu.Lock()
	delete(h.topics[topic], c)
	if len(h.topics[topic]) == 0 {
		delete(h.topics, topic)
	}
	h.mu.Unlock()
	close(c.done)
	conn.Close()
}

// client is one websocket connection.
type client struct {
	conn    *websocket.Conn
	mu      sync.Mutex
	pending []byte // the newest message not yet written
	wake    chan struct{}
	done    chan struct{}

	writeWait, pongWait time.Duration
}

// offer replaces the pending message and wakes the writer.
func (c *client) offer(msg []byte) {
	c.mu.Lock()
	c.pending = msg
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *client) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.pending
	c.pending = nil
	return m
}

func (c *client) writeLoop(first [][]byte) {
	ping := time.NewTicker(c.pongWait * 9 / 10)
	defer ping.Stop()
	for _, m := range first {
		c.conn.SetWriteDeadline(time.Now().Add(c.writeWait))
		if err := c.conn.WriteMessage(websocket.TextMessage, m); err != nil {
			c.conn.Close()
			return
		}
	}
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
			if m := c.take(); m != nil {
				c.conn.SetWriteDeadline(time.Now().Add(c.writeWait))
				if err := c.conn.WriteMessage(websocket.TextMessage, m); err != nil {
					c.conn.Close() // the reader sees it and unsubscribes
					return
				}
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.writeWait)); err != nil {
				c.conn.Close()
				return
			}
		}
	}
}

// readLoop discards what the browser sends (nothing but pongs and close
// frames are expected) and returns when the connection ends.
func (c *client) readLoop() {
	c.conn.SetReadLimit(4 << 10)
	c.conn.SetReadDeadline(time.Now().Add(c.pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(c.pongWait)) })
	for {
		if _, _, err := c.conn.ReadMessage(); err != nil {
			return
		}
	}
}
