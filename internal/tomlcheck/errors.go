package tomlcheck

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Kind is what sort of problem an Error is, so a caller can act on a kind
// (the planner treats "the models do not fit" as infeasible, not as a bad
// plan) without matching messages or field names.
type Kind uint8

// The kinds of problem a TOML reader reports.
const (
	Invalid    Kind = iota // a value the field does not allow (the default)
	Syntax                 // not TOML, or a value of the wrong type
	TooLarge               // the document breaks a Guard limit
	Unknown                // a key the format does not have
	Missing                // a required key is absent
	OutOfRange             // a number outside its range, nan or inf
	NotFound               // names something that does not exist: a model, hardware, engine, file
	NoFit                  // the models do not fit the device's memory
)

var kindNames = [...]string{"invalid", "syntax", "too large", "unknown field", "missing", "out of range", "not found", "does not fit"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Error is one problem in a TOML file, located by file, line and the dotted
// path of the field (for example models.qwen3-8b.layers).
type Error struct {
	File  string
	Line  int // 0 when the line is unknown
	Field string
	Kind  Kind
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a file, like go/scanner's ErrorList,
// so a user fixes a file in one pass rather than one error at a time.
type ErrorList []*Error

// MaxReported bounds the problems one message lists: a hostile 1 MiB file
// can hold tens of thousands, and the first hundred say what is wrong.
const MaxReported = 100

func (l ErrorList) Error() string {
	n := min(len(l), MaxReported)
	msgs := make([]string, n, n+1)
	for i, e := range l[:n] {
		msgs[i] = e.Error()
	}
	if len(l) > n {
		msgs = append(msgs, fmt.Sprintf("... and %d more problems", len(l)-n))
	}
	return strings.Join(msgs, "\n")
}

// Sort orders the list by file, then line, keeping the order problems were
// found in within a line.
func (l ErrorList) Sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
}

// Err returns the sorted list, or nil when it is empty, so a reader can
// return it directly.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// Has reports whether err holds a problem of kind k.
func Has(err error, k Kind) bool {
	var l ErrorList
	if errors.As(err, &l) {
		for _, e := range l {
			if e.Kind == k {
				return true
			}
		}
		return false
	}
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// Errors collects the problems of one file as a reader checks it: every
// TOML reader of the project (catalog, scenario, plan, calibration plan,
// profile) reports through one.
type Errors struct {
	File string
	loc  *Locator
	List ErrorList
}

// NewErrors collects problems of the file name whose source is src (nil
// for a document built in code: its problems name fields but no lines).
func NewErrors(name string, src []byte) *Errors {
	return &Errors{File: name, loc: NewLocator(src)}
}

// Add records a problem of kind Invalid at key.
func (e *Errors) Add(key []string, format string, args ...any) {
	e.AddKind(Invalid, key, format, args...)
}

// AddKind records a problem of the given kind at key.
func (e *Errors) AddKind(kind Kind, key []string, format string, args ...any) {
	e.List = append(e.List, &Error{File: e.File, Line: e.loc.Line(key...), Field: FieldPath(key...), Kind: kind, Msg: fmt.Sprintf(format, args...)})
}

// Unknown records every key of md the decoder did not use.
func (e *Errors) Unknown(md toml.MetaData) {
	for _, k := range md.Undecoded() {
		e.AddKind(Unknown, k, "unknown field")
	}
}

// Line is the line defining key, or 0.
func (e *Errors) Line(key ...string) int { return e.loc.Line(key...) }

// Len is the number of problems so far.
func (e *Errors) Len() int { return len(e.List) }

// Err returns the problems sorted by line, or nil when there are none.
func (e *Errors) Err() error { return e.List.Err() }
