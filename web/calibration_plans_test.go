package web

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// Starting a calibration reads no path a request names: plans are pasted
// as TOML or named from the plans folder, which holds regular files only,
// read with a size limit; errors about the server's files never quote them.
func TestCalibrationStartReadsNoPaths(t *testing.T) {
	plans, outside, runs := t.TempDir(), t.TempDir(), t.TempDir()
	// Nothing listens on port 1: the calibration starts and then fails.
	unreachable := unreachablePlan
	os.WriteFile(filepath.Join(plans, "good.toml"), []byte(unreachable), 0o644)
	os.WriteFile(filepath.Join(plans, "bad.toml"), []byte("name = \"x\"\nhardware = \"SECRET-HW-NAME\"\n"), 0o644)
	os.WriteFile(filepath.Join(plans, "big.toml"), []byte(strings.Repeat("# padding\n", tomlcheck.MaxBytes/10+1)), 0o644)
	os.WriteFile(filepath.Join(outside, "secret.toml"), []byte("SECRET-CONTENT = 1\n"), 0o644)
	os.Symlink(filepath.Join(outside, "secret.toml"), filepath.Join(plans, "escape.toml"))
	os.Symlink("good.toml", filepath.Join(plans, "alias.toml")) // stays inside: fine
	os.Mkdir(filepath.Join(plans, "dir.toml"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(plans, "fifo.toml"), 0o644); err != nil {
		t.Fatal(err)
	}

	s, err := newServer(testOptions{DataDir: t.TempDir(), Catalog: cat, Profiles: profiles, CalibrationDirs: []string{runs}, CalibrationPlans: plans})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer func() { hs.Close(); s.Close() }()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout: time.Minute} // a hang guard: a FIFO used to block the handler forever
	post := func(v url.Values) (int, string) {
		t.Helper()
		resp, err := client.PostForm(hs.URL+"/calibration/start", v)
		if err != nil {
			t.Fatalf("POST %v: %v", v, err)
		}
		defer resp.Body.Close()
		// The problem comes in the calibration page, HTML-escaped.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, html.UnescapeString(string(b))
	}
	for _, c := range []struct{ plan, want string }{
		{"/dev/zero", "not a path"},
		{"/etc/passwd", "not a path"},
		{"../" + filepath.Base(outside) + "/secret.toml", "not a path"},
		{"sub/good.toml", "not a path"},
		{"missing.toml", "no calibration plan \"missing.toml\""},
		{"fifo.toml", "not a regular file"},
		{"dir.toml", "not a regular file"},
		{"escape.toml", "cannot be read"},
		{"big.toml", "the limit is 1048576"},
		{"", "paste a calibration plan"},
	} {
		code, body := post(url.Values{"plan": {c.plan}})
		if code != http.StatusBadRequest || !strings.Contains(body, c.want) || strings.Contains(body, "SECRET") {
			t.Errorf("plan=%q: %d %q, want 400 saying %q", c.plan, code, body, c.want)
		}
	}
	code, body := post(url.Values{"plan": {"bad.toml"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "bad.toml:2: hardware: invalid") || strings.Contains(body, "SECRET") {
		t.Errorf("an invalid plan of the server's: %d %q, want its name, line and field, not its contents", code, body)
	}
	// A pasted plan is the user's own text: its errors say everything.
	code, body = post(url.Values{"toml": {"name = \"x\"\nhardware = \"dgx-sparkle\"\n"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "pasted-plan.toml:2: hardware") || !strings.Contains(body, "dgx-sparkle") {
		t.Errorf("an invalid pasted plan: %d %q", code, body)
	}
	entries, _ := os.ReadDir(runs)
	if len(entries) != 0 {
		t.Fatalf("refused plans started %d calibrations", len(entries))
	}
	for _, v := range []url.Values{{"plan": {"good.toml"}}, {"plan": {"alias.toml"}}, {"toml": {unreachable}}} {
		if code, body := post(v); code != http.StatusSeeOther {
			t.Errorf("start %v: %d %s", v, code, body)
		}
		// One calibration runs at a time; this one fails at once.
		eventually(t, "the calibration ends", func() bool {
			return s.Calibrations.Running() == ""
		})
	}
	if entries, _ := os.ReadDir(runs); len(entries) != 3 {
		t.Errorf("%d calibration runs started, want 3", len(entries))
	}
	// The page offers the folder's regular plans.
	resp, err := client.Get(hs.URL + "/calibration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page strings.Builder
	buf := make([]byte, 1<<20)
	for {
		n, err := resp.Body.Read(buf)
		page.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, want := range []string{`value="good.toml"`, `value="bad.toml"`, `data-testid="calibration-toml"`} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the calibration page lacks %s", want)
		}
	}
	if strings.Contains(page.String(), `value="fifo.toml"`) || strings.Contains(page.String(), `value="dir.toml"`) {
		t.Error("the calibration page offers a FIFO or a folder")
	}
}

// unreachablePlan is a valid calibration plan of two vLLM endpoints where
// nothing listens: it starts and then fails.
const unreachablePlan = `name = "unreachable"
hardware = "dgx-spark"
engine = "vllm"

[[models]]
name = "Qwen/Qwen3-8B"
arch = "qwen3-8b"
format = "bf16"
url = "http://127.0.0.1:1/v1"
max_seqs = 4

[[models]]
name = "Qwen/Qwen3-14B"
arch = "qwen3-14b"
format = "bf16"
url = "http://127.0.0.1:1/v1"
max_seqs = 4

[experiments]
concurrency = [1]
inputs = [16]
outputs = [4]
requests = 1
`

// TestCalibrationRefusesServers: a plan whose [[servers]] name programs to
// start (the shipped DGX Spark plan) is refused when it is submitted, with
// a message saying where it runs, and no run folder is made.
func TestCalibrationRefusesServers(t *testing.T) {
	plans, runs := t.TempDir(), t.TempDir()
	shipped, err := os.ReadFile("../calibration-plans/dgx-spark-qwen3-8b-14b.toml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(plans, "spark.toml"), shipped, 0o644)
	s, err := newServer(testOptions{DataDir: t.TempDir(), Catalog: cat, Profiles: profiles, CalibrationDirs: []string{runs}, CalibrationPlans: plans})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer func() { hs.Close(); s.Close() }()
	for _, v := range []url.Values{{"plan": {"spark.toml"}}, {"toml": {string(shipped)}}} {
		resp, err := http.PostForm(hs.URL+"/calibration/start", v)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || !strings.Contains(string(b), "fleettwin calibrate run") {
			t.Errorf("%v: %d %q, want a refusal pointing at calibrate run", v, resp.StatusCode, b)
		}
	}
	if entries, _ := os.ReadDir(runs); len(entries) != 0 {
		t.Errorf("a refused plan made %d run folders", len(entries))
	}
}
