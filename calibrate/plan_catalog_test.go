package calibrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
)

// The example plan brings its CPU and model shapes in a catalog file
// beside it: loaded from its folder it resolves them, its run folder
// keeps a copy, and the run's plan (what fit and check read) resolves
// them again from there, with the built-in catalog untouched.
func TestPlanBringsItsCatalog(t *testing.T) {
	base := catalog.Default()
	plan, data, err := LoadPlan(filepath.Join("..", "calibration-plans", "local-ollama.toml"), base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := base.HardwareNamed(plan.Hardware); err == nil {
		t.Fatalf("the built-in catalog has %s: the example would not need its own entries", plan.Hardware)
	}
	cat := plan.catalogOr(base)
	for _, m := range plan.Models {
		if _, err := cat.Model(m.Arch); err != nil {
			t.Errorf("model %s: %v", m.Name, err)
		}
	}
	dir, err := Start(t.TempDir(), plan, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, plan.CatalogFile)); err != nil {
		t.Fatalf("the run folder lacks the plan's catalog: %v", err)
	}
	again, _, err := LoadRunPlan(dir, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.catalogOr(base).HardwareNamed(plan.Hardware); err != nil {
		t.Errorf("the run's plan: %v", err)
	}
	if _, err := base.HardwareNamed(plan.Hardware); err == nil {
		t.Errorf("loading the plan added %s to the built-in catalog", plan.Hardware)
	}
}

// A catalog key that cannot be honoured fails on the key, saying why.
func TestPlanCatalogErrors(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "calibration-plans", "local-ollama.toml"))
	if err != nil {
		t.Fatal(err)
	}
	with := func(file string) []byte {
		return []byte(strings.Replace(string(src), `catalog = "local-ollama.catalog.toml"`, `catalog = "`+file+`"`, 1))
	}
	files := map[string][]byte{"broken.catalog.toml": []byte("[hardware.local-cpu]\nmemory_gib = \"lots\"\n")}
	read := func(name string) ([]byte, error) {
		if d, ok := files[name]; ok {
			return d, nil
		}
		return nil, os.ErrNotExist
	}
	for _, tc := range []struct {
		name string
		data []byte
		read ReadFunc
		want []string
	}{
		{"pasted", src, nil, []string{"catalog", "pasted plan"}},
		{"path", with("../models.toml"), read, []string{"catalog", "plain file name"}},
		{"not toml", with("notes.txt"), read, []string{"catalog", ".toml"}},
		{"missing", with("gone.catalog.toml"), read, []string{"catalog", "gone.catalog.toml", "not exist"}},
		{"broken", with("broken.catalog.toml"), read, []string{"catalog", "broken.catalog.toml:2", "memory_gib"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePlanFrom("plan.toml", tc.data, catalog.Default(), tc.read)
			if err == nil {
				t.Fatal("parsed")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
