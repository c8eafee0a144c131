package web

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/fleettwin/fleettwin/calibrate"
)

// A calibration started from the dashboard that fails ends on its page as
// failed, with the real cause first and no Stop button, as it happens
// and without a JS exception; one that is stopped ends stopped.
func TestCalibrationEndsInChromium(t *testing.T) {
	ts := newTestServerOpt(t, testOptions{CalibrationDirs: []string{t.TempDir()}})
	const cause = "measure Qwen/Qwen3-8B: dial tcp 127.0.0.1:1: connect: connection refused"
	fail := make(chan struct{})
	var calls sync.Mutex
	n := 0
	ts.Calibrations.Run = func(ctx context.Context, _ *calibrate.Plan, _ string, _ bool, _ io.Writer) error {
		calls.Lock()
		n++
		first := n == 1
		calls.Unlock()
		if !first { // the second waits to be stopped
			<-ctx.Done()
			return ctx.Err()
		}
		select {
		case <-fail:
			return errors.New(cause)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
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
	start := func() string {
		resp, body := ts.do(t, "POST", "/calibration/start", strings.NewReader(url.Values{"toml": {unreachablePlan}}.Encode()), "application/x-www-form-urlencoded")
		if resp.StatusCode != 303 {
			t.Fatalf("start: %d %s", resp.StatusCode, body)
		}
		return resp.Header.Get("Location")
	}
	var status, msg string
	var stops int
	err := chromedp.Run(ctx,
		chromedp.Navigate(ts.url+start()),
		chromedp.WaitVisible(`[data-testid=cal-stop]`),
		chromedp.Poll(`window.fleettwin.updates >= 1`, nil, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.ActionFunc(func(context.Context) error { close(fail); return nil }),
		chromedp.Poll(`document.querySelector('[data-testid=cal-status]').textContent === "failed"`, nil, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Text(`[data-testid=cal-status]`, &status),
		chromedp.Text(`[data-testid=cal-error]`, &msg),
		chromedp.Evaluate(`document.querySelectorAll('[data-testid=cal-stop]').length`, &stops),
	)
	if err != nil {
		t.Fatalf("a failing calibration: %v", err)
	}
	if !strings.HasPrefix(msg, cause) || stops != 0 {
		t.Errorf("failed calibration: status %q, error %q (want it to start %q), %d Stop buttons", status, msg, cause, stops)
	}
	err = chromedp.Run(ctx,
		chromedp.Navigate(ts.url+start()),
		chromedp.WaitVisible(`[data-testid=cal-stop]`),
		chromedp.Click(`[data-testid=cal-stop]`),
		chromedp.Sleep(time.Second), // the form posts and the page comes back
		chromedp.WaitVisible(`[data-testid=cal-status]`),
		chromedp.Poll(`document.querySelector('[data-testid=cal-status]').textContent === "stopped"`, nil, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Text(`[data-testid=cal-error]`, &msg),
	)
	if err != nil {
		t.Fatalf("a stopped calibration: %v", err)
	}
	if !strings.HasPrefix(msg, "stopped before every experiment was recorded") {
		t.Errorf("stopped calibration: error %q", msg)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(exceptions) > 0 {
		t.Errorf("JS exceptions: %v", exceptions)
	}
}
