package catalog

import "github.com/fleettwin/fleettwin/internal/tomlcheck"

// FieldError is one problem in a TOML file, located by file, line and the
// dotted path of the field (for example models.qwen3-8b.layers): the
// catalog's readers (and every other TOML reader of the project) report
// through tomlcheck.
type FieldError = tomlcheck.Error

// ErrorList is every problem found in a file, sorted by line.
type ErrorList = tomlcheck.ErrorList
