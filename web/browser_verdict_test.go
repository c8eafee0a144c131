package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/fleettwin/fleettwin/scenarios"
)

// firstScreen is the viewport the seed claim must be answered in: a
// laptop's 1440x900, without scrolling.
const firstScreenW, firstScreenH = 1440, 900

// viewportShot saves what the viewport shows (not the full page) under
// FLEETTWIN_SCREENSHOTS, or the test's temp dir.
func viewportShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("FLEETTWIN_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	var png []byte
	if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&png)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// TestSeedVerdictInChromium opens the dashboard as `make run` leaves it
// (serve --start seed-colocated.toml: the claim beside its baseline, a
// Spark per model) at 1440x900 and finds, without scrolling, the verdict
// with the saving against a Spark per model: on the runs page it opens
// on, on the claim's run page and on the comparison.
func TestSeedVerdictInChromium(t *testing.T) {
	ts := newTestServer(t, "", "")
	ctx, cancel := browser(t)
	defer cancel()
	var mu sync.Mutex
	var exceptions []string
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			exceptions = append(exceptions, e.ExceptionDetails.Error())
			mu.Unlock()
		}
	})
	data, err := scenarios.FS.ReadFile(scenarios.Default)
	if err != nil {
		t.Fatal(err)
	}
	// make run's speed is 600x (24 s for the seed's 4 h); 3600x keeps the
	// test to a few seconds and shows the same pages.
	run, base, err := ts.StartWithBaseline(scenarios.Default, data, 3600)
	if err != nil || base == nil {
		t.Fatalf("start: %v, baseline %v", err, base)
	}
	runID, baseID := run.State().ID, base.State().ID

	// inView is the verdict's text if the whole panel lies in the first
	// screen with the page unscrolled, else "".
	const inView = `(() => { const v = document.querySelector('[data-testid=verdict]'); if (!v || window.scrollY !== 0) return "";
		const r = v.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight ? v.innerText : "OUT OF VIEW: bottom " + r.bottom; })()`
	pages := []struct{ name, path, shot string }{
		{"runs page", "/", "dashboard-verdict"},
		{"run page", "/runs/" + runID, "dashboard-run-verdict"},
		{"comparison", "/compare?a=" + baseID + "&b=" + runID, "dashboard-compare"},
	}
	for i, p := range pages {
		var text string
		actions := []chromedp.Action{chromedp.EmulateViewport(firstScreenW, firstScreenH), chromedp.Navigate(ts.url + p.path)}
		if i == 0 {
			// The runs page opens while the claim still runs: its panel
			// waits, then the page reloads itself with the verdict.
			actions = append(actions, chromedp.WaitVisible(`[data-testid=verdict]`))
		}
		actions = append(actions,
			chromedp.WaitVisible(`[data-testid=verdict-summary]`),
			chromedp.Poll(`document.readyState === "complete"`, nil, chromedp.WithPollingTimeout(30*time.Second)),
			chromedp.Evaluate(inView, &text))
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		text = strings.Join(strings.Fields(text), " ")
		for _, w := range []string{"against seed-separate", "hardware spend 50.0% lower ($4,699 against $9,398)", "qwen3-14b misses TTFT p95 3.58 s > 3 s",
			"utilization 78.5% ≥ 70.0%"} {
			if !strings.Contains(text, w) {
				t.Errorf("%s at %dx%d: the verdict in view lacks %q:\n%s", p.name, firstScreenW, firstScreenH, w, text)
			}
		}
		viewportShot(t, ctx, p.shot)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(exceptions) > 0 {
		t.Errorf("JS exceptions: %v", exceptions)
	}
}
