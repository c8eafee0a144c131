package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/scenarios"
)

// The shipped list holds the scenarios, default first, and not the
// traces/ folder embedded beside them.
func TestShippedNames(t *testing.T) {
	names := NewServer().names
	if len(names) == 0 || names[0] != scenarios.Default {
		t.Fatalf("names %v: want %s first", names, scenarios.Default)
	}
	for _, n := range names {
		if !strings.HasSuffix(n, ".toml") {
			t.Errorf("listed %q, not a scenario", n)
		}
	}
	if !slices.Contains(names, "trace-mooncake.toml") {
		t.Errorf("names %v lack trace-mooncake.toml", names)
	}
}

// Starting the shipped trace scenario from the dashboard runs it to the
// end (its trace is embedded beside it).
func TestStartShippedTrace(t *testing.T) {
	ts := newTestServer(t, "", "")
	resp, page := ts.do(t, "POST", "/runs", strings.NewReader(url.Values{"scenario": {"trace-mooncake.toml"}, "speed": {"0"}}.Encode()), "application/x-www-form-urlencoded")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start trace-mooncake: %d %s", resp.StatusCode, page)
	}
	st := ts.wait(t, strings.TrimPrefix(resp.Header.Get("Location"), "/runs/"))
	if st.Status != jobs.StatusDone {
		t.Errorf("trace-mooncake ended %s: %s", st.Status, st.Error)
	}
}
