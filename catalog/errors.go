package catalog

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in a TOML file, located by file, line and the
// dotted path of the field (for example models.qwen3-8b.layers).
type FieldError struct {
	File  string
	Line  int // 0 when the line is unknown
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
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

// ErrorList collects every problem found in a file, like go/scanner's
// ErrorList, so a user fixes a catalog in one pass rather than one error at a
// time.
type ErrorList []*FieldError

func (l ErrorList) Error() string {
	n := min(len(l), maxReported)
	msgs := make([]string, n, n+1)
	for i, e := range l[:n] {
		msgs[i] = e.Error()
	}
	if len(l) > n {
		msgs = append(msgs, fmt.Sprintf("... and %d more problems", len(l)-n))
	}
	return strings.Join(msgs, "\n")
}

// maxReported bounds the problems one message lists: a hostile 1 MiB file
// can hold tens of thousands, and the first hundred say what is wrong.
const maxReported = 100

// sorted orders the list by file and line, then field, for stable output.
func (l ErrorList) sorted() ErrorList {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Field < b.Field
	})
	return l
}

// err returns nil for an empty list, so callers can return it directly.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l.sorted()
}
