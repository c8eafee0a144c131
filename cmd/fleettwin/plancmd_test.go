package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// manifestArgs reads the list under the first "args:" of a manifest.
func manifestArgs(t *testing.T, manifest string) []string {
	t.Helper()
	var args []string
	in := false
	for _, line := range strings.Split(manifest, "\n") {
		s := strings.TrimSpace(line)
		switch {
		case s == "args:":
			in = true
		case in && strings.HasPrefix(s, "- "):
			args = append(args, strings.TrimPrefix(s, "- "))
		case in:
			return args
		}
	}
	return args
}

// The Kubernetes Indexed Job in deploy/ runs exactly these arguments, one
// completion index per pod; its merge joins the slices into the same result
// one process writes.
func TestDeployIndexedJobMergesToOneRun(t *testing.T) {
	job, err := os.ReadFile("../../deploy/plan-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*completions:\s*(\d+)`).FindSubmatch(job)
	if m == nil {
		t.Fatal("no completions in plan-job.yaml")
	}
	n, _ := strconv.Atoi(string(m[1]))
	args := manifestArgs(t, string(job))
	if len(args) == 0 || args[0] != "plan" {
		t.Fatalf("plan-job.yaml args %q do not run fleettwin plan", args)
	}
	dir := t.TempDir()
	copyFile(t, "../../planner/testdata/small.toml", filepath.Join(dir, "plan", "plan.toml"))
	local := func(s string) string {
		s = strings.ReplaceAll(s, "/plan/", filepath.Join(dir, "plan")+"/")
		return strings.ReplaceAll(s, "/shards/", filepath.Join(dir, "shards")+"/")
	}
	if err := os.MkdirAll(filepath.Join(dir, "shards"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		var pod []string
		for _, a := range args {
			pod = append(pod, local(strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", strconv.Itoa(i))))
		}
		if _, stderr, code := fleettwin(t, pod...); code != 0 {
			t.Fatalf("pod %d: fleettwin %s: exit %d: %s", i, strings.Join(pod, " "), code, stderr)
		}
	}
	merge, err := os.ReadFile("../../deploy/merge-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cmd := regexp.MustCompile(`fleettwin (plan merge [^&\n]*)`).FindSubmatch(merge)
	if cmd == nil {
		t.Fatal("merge-job.yaml does not run fleettwin plan merge")
	}
	var margs []string
	for _, f := range strings.Fields(local(string(cmd[1]))) {
		if strings.Contains(f, "*") {
			matches, _ := filepath.Glob(f)
			if len(matches) != n {
				t.Fatalf("%s matches %d shard files, want %d", f, len(matches), n)
			}
			margs = append(margs, matches...)
			continue
		}
		margs = append(margs, f)
	}
	if _, stderr, code := fleettwin(t, margs...); code != 0 {
		t.Fatalf("fleettwin %s: exit %d: %s", strings.Join(margs, " "), code, stderr)
	}
	one := filepath.Join(dir, "one.json")
	if _, stderr, code := fleettwin(t, "plan", filepath.Join(dir, "plan", "plan.toml"), "--quiet", "--json", one); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	a, err1 := os.ReadFile(one)
	b, err2 := os.ReadFile(filepath.Join(dir, "shards", "result.json"))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !bytes.Equal(a, b) {
		t.Error("the merged shards' result differs from one run's")
	}
	for _, f := range []string{"result.csv", "charts/pareto.svg", "charts/pareto.png", "charts/day-power.svg"} {
		if _, err := os.Stat(filepath.Join(dir, "shards", f)); err != nil {
			t.Errorf("merge wrote no %s: %v", f, err)
		}
	}
	html := filepath.Join(dir, "report.html")
	if _, stderr, code := fleettwin(t, "report", one, "--out", html); code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	if data, _ := os.ReadFile(html); !bytes.Contains(data, []byte("<svg")) || !bytes.Contains(data, []byte(`data-testid="ranked"`)) {
		t.Error("the HTML report has no charts or no ranked table")
	}
}

func TestPlanCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("name = \"x\"\n[search]\nhardware = [\"nope\"]\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"plan"}, 2, "want exactly one plan file"},
		{[]string{"plan", bad}, 1, "bad.toml:3: search.hardware[0]"},
		{[]string{"plan", "../../planner/testdata/small.toml", "--shard", "3/2", "--out", "x.json"}, 2, "want i/n"},
		{[]string{"plan", "../../planner/testdata/small.toml", "--shard", "0/2"}, 2, "--shard needs --out"},
		{[]string{"plan", "merge"}, 2, "name the shard files"},
		{[]string{"plan", "merge", bad}, 1, "bad.toml"},
		{[]string{"report", bad}, 1, "report"},
	} {
		_, stderr, code := fleettwin(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("fleettwin %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.want)
		}
	}
}

// Issue 17 item 10: the flag package took the back-quoted `plan merge` in
// --shard's help for its value's name and printed "-shard plan merge".
func TestPlanHelpNamesShardValue(t *testing.T) {
	_, stderr, _ := fleettwin(t, "plan", "--help")
	if !strings.Contains(stderr, "-shard i/n") || strings.Contains(stderr, "-shard plan") {
		t.Errorf("plan --help:\n%s\nwant \"-shard i/n\" and no \"-shard plan\"", stderr)
	}
	if !strings.Contains(stderr, "join the slices with fleettwin plan merge") {
		t.Errorf("plan --help:\n%s\nwant --shard to point to fleettwin plan merge", stderr)
	}
}
