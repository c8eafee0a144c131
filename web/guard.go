package web

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Request bodies are bounded: a form is a few kilobytes, a pasted plan or
// scenario at most tomlcheck.MaxBytes (1 MiB), and the what-if form may
// carry the scenario twice (the edited TOML and an upload).
const (
	maxFormBody   = 1 << 20 // every POST but the two below
	maxTOMLBody   = 2 << 20 // POST /plans, POST /calibration/start: a pasted TOML
	maxWhatIfBody = 4 << 20 // POST /whatif: the TOML and an uploaded file
)

// bodyLimit is the largest body accepted for a request to path.
func bodyLimit(path string) int64 {
	switch path {
	case "/whatif":
		return maxWhatIfBody
	case "/plans", "/calibration/start":
		return maxTOMLBody
	}
	return maxFormBody
}

// loopbackHost reports whether a Host header names this machine's
// loopback interface: 127.0.0.0/8, [::1] or localhost, with any port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// guard refuses what no page of another site may do to the dashboard,
// before the token check and the routes: a foreign Host when the server
// runs without a token (a DNS-rebinding name reaches a loopback server
// under the attacker's origin), an unsafe method sent cross-site, and a
// body over its limit. It parses the form of every POST, so a handler's
// FormValue never silently reads a truncated body. It returns false when
// it has answered.
func (s *Server) guard(w http.ResponseWriter, r *http.Request) bool {
	if s.Token == "" && !loopbackHost(r.Host) {
		http.Error(w, fmt.Sprintf("this dashboard runs without a token, so it answers only to a loopback host name (127.0.0.1, [::1] or localhost); Host %q is not one. Open http://127.0.0.1:PORT/, or start it with --token to serve other names", r.Host),
			http.StatusMisdirectedRequest)
		return false
	}
	if err := s.cop.Check(r); err != nil {
		http.Error(w, "cross-origin request refused: a page of another site cannot start or stop runs, plans or calibrations here ("+err.Error()+")", http.StatusForbidden)
		return false
	}
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	limit := bodyLimit(r.URL.Path)
	if r.ContentLength > limit {
		tooLarge(w, limit)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
		return true
	}
	var err error
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		err = r.ParseMultipartForm(limit)
	} else {
		err = r.ParseForm()
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		tooLarge(w, limit)
		return false
	case err != nil:
		http.Error(w, "reading the form: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func tooLarge(w http.ResponseWriter, limit int64) {
	http.Error(w, fmt.Sprintf("request body too large: this form takes at most %d MiB", limit>>20), http.StatusRequestEntityTooLarge)
}

// sameOrigin is the websocket upgrade's origin rule, the same as
// http.CrossOriginProtection's for unsafe methods: a browser's fetch
// metadata, when sent, must say same-origin (or none: typed by the user);
// otherwise an Origin, when sent, must name the requested host. Clients
// that send neither (Go's, scripts) are not browsers driven by a page.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}
