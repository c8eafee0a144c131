package fleettwin

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocNamesEveryPackage keeps the package doc, a newcomer's map of the
// tree, in step with the tree: every folder holding a Go package is named.
func TestDocNamesEveryPackage(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "fleettwin.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	seen := map[string]bool{}
	for _, path := range sourceFiles(t) {
		dir := filepath.Dir(path)
		if dir == "." || strings.HasPrefix(dir, "internal") {
			continue // the root itself; internal/... is named as a whole
		}
		name := filepath.Base(dir)
		if !seen[dir] && !regexp.MustCompile(`\b`+regexp.QuoteMeta(name)+`\b`).MatchString(doc) {
			t.Errorf("the package doc in fleettwin.go does not name package %s (%s)", name, dir)
		}
		seen[dir] = true
	}
}

// floors are docs/architecture.md's table: a package imports only from its
// own floor or below, so the pure core never reaches the edges.
var floors = map[string]int{
	".": 0, "engine": 0, "fit": 0, "power": 0, "sketch": 0, "chart": 0, "gguf": 0, "internal": 0, "scenarios": 0, "plans": 0, "measure": 0,
	"catalog": 1, "perf": 1, "workload": 1,
	"scenario": 2,
	"sim":      3, "tco": 3,
	"twin": 4, "planner": 4, "calibrate": 4, "randmodel": 4, "validate": 4, "servefit": 4, "sharefit": 4, "verdict": 4,
	"jobs": 5, "report": 5,
	"web": 6, "cmd": 6,
}

// floorOf is the floor of a folder: that of its first path element.
func floorOf(dir string) (int, bool) {
	top, _, _ := strings.Cut(filepath.ToSlash(dir), "/")
	f, ok := floors[top]
	return f, ok
}

// TestFloors checks every package's imports against the floors, and that
// the dashboard runs nothing itself: web reaches the simulator and the
// calibrations only through jobs.
func TestFloors(t *testing.T) {
	const module = "github.com/fleettwin/fleettwin"
	seen := map[string]bool{}
	for _, path := range sourceFiles(t) {
		dir := filepath.Dir(path)
		floor, ok := floorOf(dir)
		if !ok {
			if !seen[dir] {
				t.Errorf("package %s has no floor: place it in docs/architecture.md and in floors", dir)
			}
			seen[dir] = true
			continue
		}
		seen[dir] = true
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if p != module && !strings.HasPrefix(p, module+"/") {
				continue
			}
			rel := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
			if rel == "" {
				rel = "."
			}
			if g, ok := floorOf(rel); ok && g > floor {
				t.Errorf("%s (floor %d) imports %s (floor %d)", path, floor, rel, g)
			}
			if filepath.ToSlash(dir) == "web" && (rel == "sim" || rel == "calibrate" || strings.HasPrefix(rel, "calibrate/")) {
				t.Errorf("%s imports %s: the dashboard reaches it through jobs", path, rel)
			}
		}
	}
}

// sourceFiles lists the module's non-test Go files, in walk order, leaving
// out hidden folders, testdata and node_modules.
func sourceFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
