package calibrate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// A plan may bring its own catalog entries (catalog = "FILE.toml", a
// file beside it): the hardware and model shapes of a machine the
// built-in catalog does not describe, such as the CPU the example
// calibration against the local Ollama runs on. The entries extend the
// catalog for that plan only; a run copies the file into its folder, so
// `calibrate fit` and `calibrate check` of the run read the same
// entries without being told.

// ReadFunc returns a file that lies beside a plan, by plain name.
type ReadFunc func(name string) ([]byte, error)

// ParsePlanFrom is ParsePlan for a plan whose catalog key names a file
// read returns. ParsePlan refuses such a plan: a pasted plan has no
// folder to read the file from.
func ParsePlanFrom(name string, data []byte, cat *catalog.Catalog, read ReadFunc) (*Plan, error) {
	return parsePlan(name, data, cat, true, read)
}

// readBeside reads plain-named files of dir, as loadPlan reads the plan
// (the catalog's parser bounds the size).
func readBeside(dir string) ReadFunc {
	return func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
}

// checkCatalogName says what is wrong with a catalog key's value, or "".
func checkCatalogName(name string) string {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.Contains(name, "..") || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".toml") {
		return fmt.Sprintf("must name a .toml file beside the plan (a plain file name, no folders), got %q", name)
	}
	return ""
}

// loadCatalog reads the plan's catalog file and extends cat with it; it
// returns cat when the plan names none.
func (p *Plan) loadCatalog(errs *tomlcheck.Errors, cat *catalog.Catalog, read ReadFunc) *catalog.Catalog {
	if p.CatalogFile == "" {
		return cat
	}
	key := []string{"catalog"}
	if msg := checkCatalogName(p.CatalogFile); msg != "" {
		errs.Add(key, "%s", msg)
		return cat
	}
	if read == nil {
		errs.Add(key, "%s: a pasted plan cannot bring catalog entries (it has no folder to read them from); start it from the plans folder, or give the entries to the server (--catalog)", p.CatalogFile)
		return cat
	}
	data, err := read(p.CatalogFile)
	if err != nil {
		errs.AddKind(tomlcheck.NotFound, key, "%s: %v", p.CatalogFile, err)
		return cat
	}
	ext, err := cat.Extend(p.CatalogFile, data)
	if err != nil {
		errs.Add(key, "%v", err)
		return cat
	}
	p.cat, p.catalogData = ext, data
	return ext
}

// catalogOr is the catalog the plan was checked against when it brought
// entries of its own, else c: what every step of a run (serving, fitting,
// replaying) must look its hardware and models up in.
func (p *Plan) catalogOr(c *catalog.Catalog) *catalog.Catalog {
	if p.cat != nil {
		return p.cat
	}
	return c
}
