package catalog

import "github.com/fleettwin/fleettwin/internal/tomlcheck"

// FieldError is one problem in a TOML file, located by file, line and the
// dotted path of the field (for example models.qwen3-8b.layers).
type FieldError = tomlcheck.Error

// ErrorList is every problem found in a file, sorted by line.
type ErrorList = tomlcheck.ErrorList

// Locator is tomlcheck.Locator (until every reader names that).
type Locator = tomlcheck.Locator

// NewLocator is tomlcheck.NewLocator (until every reader calls that).
func NewLocator(src []byte) *Locator { return tomlcheck.NewLocator(src) }

// FieldPath is tomlcheck.FieldPath (until every reader calls that).
func FieldPath(key ...string) string { return tomlcheck.FieldPath(key...) }

// Index is tomlcheck.Index (until every reader calls that).
func Index(i int) string { return tomlcheck.Index(i) }

// DecodeError is tomlcheck.DecodeError (until every reader calls that).
func DecodeError(name string, err error) error { return tomlcheck.DecodeError(name, err) }
