// Package tomlcheck bounds untrusted TOML before it reaches the decoder and
// checks the numbers decoded from it.
//
// The TOML library recurses once per nesting level and builds a map per
// dotted-key part, so a few kilobytes of `[[[[…` or `a.a.a.…` exhaust its
// stack or memory (a Go stack overflow is fatal; recover cannot catch it).
// Guard rejects such input in one linear pass, before decoding: every reader
// of a TOML file (catalog, scenario, plan, calibration plan, profile) calls
// it first.
package tomlcheck

import (
	"fmt"
)

// Limits on a TOML document. The project's own files are far inside them:
// the largest shipped file is about 15 KB, nests 3 deep and has 5-part keys.
const (
	// MaxBytes is the largest document accepted.
	MaxBytes = 1 << 20
	// MaxDepth bounds nested arrays and inline tables.
	MaxDepth = 32
	// MaxKeyParts bounds the parts of one dotted key or table header.
	MaxKeyParts = 32
)

// LimitError says which limit a document broke and where.
type LimitError struct {
	Line int // 1-based; 0 for the size limit
	Msg  string
}

func (e *LimitError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Guard checks a document against MaxBytes, MaxDepth and MaxKeyParts without
// parsing it. It understands just enough TOML (strings, comments, table
// headers, keys, arrays and inline tables) to count correctly; anything
// malformed is left for the decoder to report.
func Guard(data []byte) error {
	if len(data) > MaxBytes {
		return &LimitError{Msg: fmt.Sprintf("file is %d bytes; the limit is %d (1 MiB), far above any real scenario, plan, catalog or profile", len(data), MaxBytes)}
	}
	g := guard{src: data, line: 1, keyNext: true}
	return g.run()
}

type guard struct {
	src     []byte
	i       int
	line    int
	stack   []byte // open '[' and '{' of values
	keyNext bool   // the next token is a key (or a table header)
}

func (g *guard) run() error {
	for g.i < len(g.src) {
		c := g.src[g.i]
		switch {
		case c == '\n':
			g.line++
			g.i++
			if len(g.stack) == 0 {
				g.keyNext = true
			}
		case c == ' ' || c == '\t' || c == '\r':
			g.i++
		case c == '#':
			g.skipComment()
		case g.keyNext && len(g.stack) == 0 && c == '[':
			if err := g.header(); err != nil {
				return err
			}
		case g.keyNext:
			if err := g.key(); err != nil {
				return err
			}
		case c == '"' || c == '\'':
			g.skipString()
		case c == '[' || c == '{':
			if len(g.stack) >= MaxDepth {
				return &LimitError{Line: g.line, Msg: fmt.Sprintf("arrays and inline tables nest deeper than %d levels", MaxDepth)}
			}
			g.stack = append(g.stack, c)
			g.i++
			g.keyNext = c == '{'
		case c == ']' || c == '}':
			if len(g.stack) > 0 {
				g.stack = g.stack[:len(g.stack)-1]
			}
			g.i++
		case c == ',':
			g.i++
			g.keyNext = len(g.stack) > 0 && g.stack[len(g.stack)-1] == '{'
		default:
			g.i++
		}
	}
	return nil
}

// header reads a [table] or [[array]] header and the rest of its line.
func (g *guard) header() error {
	for n := 0; g.i < len(g.src) && g.src[g.i] == '['; n++ {
		if n == 2 {
			return &LimitError{Line: g.line, Msg: "a table header opens with more than two '['"}
		}
		g.i++
	}
	if err := g.keyParts(']'); err != nil {
		return err
	}
	for g.i < len(g.src) && g.src[g.i] != '\n' {
		g.i++
	}
	return nil
}

// key reads a (dotted) key up to its '='.
func (g *guard) key() error {
	if err := g.keyParts('='); err != nil {
		return err
	}
	if g.i < len(g.src) && g.src[g.i] == '=' {
		g.i++
	}
	g.keyNext = false
	return nil
}

// keyParts counts the parts of a key ending at end (or a newline).
func (g *guard) keyParts(end byte) error {
	parts := 1
	for g.i < len(g.src) {
		c := g.src[g.i]
		switch {
		case c == end || c == '\n' || c == '#' || c == '}' || c == ',':
			return nil
		case c == '"' || c == '\'':
			g.skipString()
		case c == '.':
			parts++
			if parts > MaxKeyParts {
				return &LimitError{Line: g.line, Msg: fmt.Sprintf("a dotted key has more than %d parts", MaxKeyParts)}
			}
			g.i++
		default:
			g.i++
		}
	}
	return nil
}

// skipString skips a basic, literal or multi-line string, counting lines.
func (g *guard) skipString() {
	q := g.src[g.i]
	if g.i+2 < len(g.src) && g.src[g.i+1] == q && g.src[g.i+2] == q {
		g.i += 3
		for g.i < len(g.src) {
			c := g.src[g.i]
			switch {
			case c == '\\' && q == '"':
				g.i++
				if g.i < len(g.src) && g.src[g.i] == '\n' {
					g.line++
				}
			case c == '\n':
				g.line++
			case c == q && g.i+2 < len(g.src) && g.src[g.i+1] == q && g.src[g.i+2] == q:
				g.i += 3
				for g.i < len(g.src) && g.src[g.i] == q { // up to two quotes may end the content
					g.i++
				}
				return
			}
			g.i++
		}
		return
	}
	g.i++
	for g.i < len(g.src) {
		c := g.src[g.i]
		switch {
		case c == '\\' && q == '"':
			g.i++
		case c == q:
			g.i++
			return
		case c == '\n': // unterminated: the decoder reports it
			return
		}
		g.i++
	}
}

func (g *guard) skipComment() {
	for g.i < len(g.src) && g.src[g.i] != '\n' {
		g.i++
	}
}
