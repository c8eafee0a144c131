package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fleettwin/fleettwin/scenarios"
)

// The shipped 100-node scenario's run page fits a reader: under 3,000 px
// tall at 1440x900 once done, its devices summed up by node group (mean,
// min and max) in the charts, the line under the progress and the result
// table, each device a click away.
func TestLargeFleetPageHeightInChromium(t *testing.T) {
	ts := newTestServer(t, "", "")
	data, err := scenarios.FS.ReadFile("fleet-h100.toml")
	if err != nil {
		t.Fatal(err)
	}
	short := strings.NewReplacer("duration_s = 3600", "duration_s = 600", "warmup_s = 300", "warmup_s = 60").Replace(string(data))
	run, err := ts.Runs.Start("fleet-h100.toml", []byte(short), 0)
	if err != nil {
		t.Fatal(err)
	}
	ts.wait(t, run.State().ID)
	ctx, cancel := browser(t)
	defer cancel()
	var height, legend int
	var groups string
	err = chromedp.Run(ctx,
		chromedp.EmulateViewport(firstScreenW, firstScreenH),
		chromedp.Navigate(ts.url+"/runs/"+run.State().ID),
		chromedp.WaitVisible(`[data-testid=summary]`),
		chromedp.Poll(`window.fleettwin.updates >= 1 && document.querySelectorAll('[data-chart] canvas').length == 10`, nil),
		chromedp.Evaluate(`document.documentElement.scrollHeight`, &height),
		chromedp.Evaluate(`document.querySelector('[data-chart=util]').querySelectorAll('.u-legend .u-series').length`, &legend),
		chromedp.Text(`[data-testid=devices-now]`, &groups),
	)
	if err != nil {
		t.Fatalf("the 100-node run's page: %v", err)
	}
	screenshot(t, ctx, "dashboard-fleet")
	t.Logf("page %d px tall, utilization legend %d entries, devices line %q", height, legend, groups)
	if height >= 3000 {
		t.Errorf("the 100-node run's page is %d px tall at %dx%d, want under 3,000", height, firstScreenW, firstScreenH)
	}
	if legend > 10 {
		t.Errorf("the utilization chart's legend has %d entries", legend)
	}
	if !strings.Contains(groups, "h100-32b") || !strings.Contains(groups, "h100-30b") || len(groups) > 400 {
		t.Errorf("devices line %q: want one entry per node group", groups)
	}
}
