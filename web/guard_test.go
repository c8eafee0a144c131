package web

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func startForm() string {
	return url.Values{"scenario": {"seed-colocated.toml"}, "speed": {"0"}}.Encode()
}

// send posts the start form with extra headers (and Host when set).
func (ts *testServer) send(t *testing.T, method, path, host string, body io.Reader, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// A page of another site cannot start anything: browsers mark its
// requests with Sec-Fetch-Site or an Origin, and both are refused; the
// dashboard's own form posts (same origin) and scripts (neither header)
// still work.
func TestCrossSiteRequestsRefused(t *testing.T) {
	ts := newTestServer(t, "", "")
	self := strings.TrimPrefix(ts.url, "http://")
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "http://evil.example"},
		{"Origin": "http://evil.example:" + self[strings.LastIndex(self, ":")+1:]},
		{"Origin": "null"},
	} {
		for _, path := range []string{"/runs", "/plans", "/calibration/start", "/whatif"} {
			resp, body := ts.send(t, "POST", path, "", strings.NewReader(startForm()), h)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "cross-origin request refused") {
				t.Errorf("POST %s with %v: %d %s", path, h, resp.StatusCode, body)
			}
		}
	}
	if n := len(ts.Runs.List()); n != 0 {
		t.Fatalf("cross-site posts started %d runs", n)
	}
	ts.sessionPlansCount(t, 0)
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "same-origin", "Origin": ts.url},
		{"Origin": ts.url},
		{}, // a script
	} {
		resp, body := ts.send(t, "POST", "/runs", "", strings.NewReader(startForm()), h)
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("same-origin POST with %v: %d %s", h, resp.StatusCode, body)
		}
	}
	if err := ts.Runs.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The websocket upgrade follows the same rule.
	id := ts.Runs.List()[0].ID
	u := "ws" + strings.TrimPrefix(ts.url, "http") + "/ws/runs/" + id
	for _, h := range []http.Header{
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Origin": {"http://evil.example"}},
	} {
		if c, resp, err := websocket.DefaultDialer.Dial(u, h); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			if c != nil {
				c.Close()
			}
			t.Errorf("websocket with %v: %v %v", h, resp, err)
		}
	}
	c, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {ts.url}, "Sec-Fetch-Site": {"same-origin"}})
	if err != nil {
		t.Fatalf("same-origin websocket: %v", err)
	}
	c.Close()
}

func (ts *testServer) sessionPlansCount(t *testing.T, want int) {
	t.Helper()
	n := len(ts.Plans.List())
	if n != want {
		t.Errorf("%d plans, want %d", n, want)
	}
}

// Without a token the dashboard answers only to loopback names: a
// DNS-rebinding name pointing at 127.0.0.1 is refused, its websocket too.
// With a token any name is served (the token is the check).
func TestForeignHostRefused(t *testing.T) {
	ts := newTestServer(t, "", "")
	port := ts.url[strings.LastIndex(ts.url, ":")+1:]
	for _, host := range []string{"evil.example:8080", "evil.example", "127.0.0.1.evil.example:" + port, "localhost.evil.example", "10.0.0.1:" + port} {
		resp, body := ts.send(t, "GET", "/", host, nil, nil)
		if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(body, "loopback host name") {
			t.Errorf("GET / with Host %q: %d %s", host, resp.StatusCode, body)
		}
		resp, _ = ts.send(t, "POST", "/runs", host, strings.NewReader(startForm()), map[string]string{"Origin": "http://" + host})
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("POST /runs with Host %q: %d", host, resp.StatusCode)
		}
	}
	if n := len(ts.Runs.List()); n != 0 {
		t.Fatalf("foreign hosts started %d runs", n)
	}
	id := ts.start(t, "seed-colocated.toml", "0")
	ts.wait(t, id)
	u := "ws" + strings.TrimPrefix(ts.url, "http") + "/ws/runs/" + id
	c, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Host": {"evil.example:" + port}, "Origin": {"http://evil.example:" + port}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
		if c != nil {
			c.Close()
		}
		t.Errorf("websocket with a foreign Host: %v %v", resp, err)
	}
	for _, host := range []string{"localhost:" + port, "LOCALHOST", "127.0.0.1:" + port, "127.1.2.3:" + port, "[::1]:" + port} {
		if resp, body := ts.send(t, "GET", "/", host, nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET / with Host %q: %d %s", host, resp.StatusCode, body)
		}
	}
	tok := newTestServer(t, "", "s3cret")
	if resp, body := tok.send(t, "GET", "/?token=s3cret", "fleet.example:8080", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("with a token, another name: %d %s", resp.StatusCode, body)
	}
}

// Bodies are bounded on every endpoint: too large is a 413 that says so,
// whether the length is declared or not, and starts nothing.
func TestBodyLimits(t *testing.T) {
	ts := newTestServer(t, "", "")
	pad := func(n int) string { return startForm() + "&pad=" + strings.Repeat("x", n) }
	for _, c := range []struct {
		path string
		size int
	}{
		{"/runs", maxFormBody},
		{"/runs/x/stop", maxFormBody},
		{"/plans", maxTOMLBody},
		{"/calibration/start", maxTOMLBody},
		{"/whatif", maxWhatIfBody},
	} {
		// Declared length.
		resp, body := ts.send(t, "POST", c.path, "", strings.NewReader(pad(c.size)), nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "request body too large") {
			t.Errorf("POST %s, %d bytes: %d %s", c.path, c.size, resp.StatusCode, body)
		}
		// Chunked: the length is only known by reading.
		resp, body = ts.send(t, "POST", c.path, "", io.MultiReader(strings.NewReader(pad(c.size))), nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "request body too large") {
			t.Errorf("POST %s, %d bytes chunked: %d %s", c.path, c.size, resp.StatusCode, body)
		}
	}
	// A multipart what-if upload over the limit.
	var b bytes.Buffer
	b.WriteString("--x\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"big.toml\"\r\n\r\n")
	b.WriteString(strings.Repeat("# padding\n", maxWhatIfBody/10+1))
	b.WriteString("\r\n--x--\r\n")
	resp, body := ts.send(t, "POST", "/whatif", "", io.MultiReader(&b), map[string]string{"Content-Type": "multipart/form-data; boundary=x"})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("multipart upload over the limit: %d %s", resp.StatusCode, body)
	}
	if n := len(ts.Runs.List()); n != 0 {
		t.Fatalf("oversized posts started %d runs", n)
	}
	ts.sessionPlansCount(t, 0)
	// Just under the limit is fine.
	if resp, body := ts.send(t, "POST", "/runs", "", strings.NewReader(pad(maxFormBody-len(startForm())-10)), nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a form just under the limit: %d %s", resp.StatusCode, body)
	}
}
