package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/scenarios"
)

// A page opened on a 100-node run whose state has outgrown one message
// gets it as a head and parts: it shows the filled state, then follows
// the deltas, every device's series as long as the time axis, with no JS
// exception.
func TestLargeFleetPartsInChromium(t *testing.T) {
	ts := newTestServer(t, "", "")
	data, err := scenarios.FS.ReadFile("fleet-h100.toml")
	if err != nil {
		t.Fatal(err)
	}
	run, err := ts.Runs.Start("fleet-h100.toml", data, 60) // a minute of wall time
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Runs.Stop(run.State().ID)
	// Wait until the state on connect comes in parts.
	for deadline := time.Now().Add(2 * time.Minute); len(run.State().WireParts(jobs.MessageLimit)) < 3; {
		if time.Now().After(deadline) || run.State().Done {
			t.Fatal("the run's state never outgrew one message")
		}
		time.Sleep(200 * time.Millisecond)
	}
	ctx, cancel := browser(t)
	defer cancel()
	var exceptions []string
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			exceptions = append(exceptions, e.ExceptionDetails.Error())
		}
	})
	var ok bool
	var points, first int
	err = chromedp.Run(ctx,
		chromedp.Navigate(ts.url+"/runs/"+run.State().ID),
		chromedp.Poll(`window.fleettwin.updates >= 1`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Evaluate(`window.fleettwin.state.t.length`, &first),
		chromedp.Poll(`window.fleettwin.updates >= 5`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Evaluate(`(() => { const s = window.fleettwin.state; const n = s.t.length;
			return s.devices.length === 100 && s.devices.every((d) => d.power_w.length === n && d.utilization.length === n) &&
				s.models.every((m) => m.e2e_p95_s.length === n) && s.t.every((x, i) => i === 0 || x > s.t[i - 1]); })()`, &ok),
		chromedp.Evaluate(`window.fleettwin.state.t.length`, &points),
	)
	if err != nil {
		t.Fatalf("open a 100-node run in parts: %v", err)
	}
	if !ok || first < 2 || points <= first {
		t.Errorf("the page's state: consistent %v, %d points on connect, %d later", ok, first, points)
	}
	if len(exceptions) > 0 {
		t.Errorf("JS exceptions: %s", strings.Join(exceptions, "; "))
	}
}
