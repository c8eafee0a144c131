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
	err = filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.Dir(path)
		if dir == "." || strings.HasPrefix(dir, "internal") {
			return nil // the root itself; internal/... is named as a whole
		}
		name := filepath.Base(dir)
		if !seen[dir] && !regexp.MustCompile(`\b`+regexp.QuoteMeta(name)+`\b`).MatchString(doc) {
			t.Errorf("the package doc in fleettwin.go does not name package %s (%s)", name, dir)
		}
		seen[dir] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
