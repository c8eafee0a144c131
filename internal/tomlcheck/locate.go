package tomlcheck

import (
	"strconv"
	"strings"
)

// Locator maps dotted TOML key paths to the line that defines them.
//
// BurntSushi/toml reports lines for syntax and type errors but keeps key
// positions private, so validation errors (a negative value, a missing field)
// would otherwise name no line. The locator is a small line scanner for the
// plain layout these files use: [table] headers and key = value lines. For
// anything it does not understand it falls back to the nearest enclosing table.
//
// Arrays of tables are indexed: the second [[nodes]] table's key "count" is
// found as Line("nodes", "[1]", "count"). Without the index, a key finds its
// first occurrence, which is what TOML decoders report for unknown keys.
type Locator struct {
	lines map[string]int
}

// Index returns the path element of the i-th table of an array of tables.
func Index(i int) string { return "[" + strconv.Itoa(i) + "]" }

// FieldPath joins a key path for people: nodes[1].instances[0].quant. A
// part that is not a bare TOML key (a model named "qwen3.5") is quoted, as
// it would be written in the file.
func FieldPath(key ...string) string {
	var b strings.Builder
	for i, k := range key {
		if strings.HasPrefix(k, "[") {
			b.WriteString(k)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if bare(k) {
			b.WriteString(k)
		} else {
			b.WriteString(strconv.Quote(k))
		}
	}
	return b.String()
}

// bare reports whether k may be written unquoted: A-Z a-z 0-9 _ -.
func bare(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// NewLocator scans TOML source text.
func NewLocator(src []byte) *Locator {
	l := &Locator{lines: make(map[string]int)}
	var table []string
	arrays := map[string]int{} // indexed path of an array of tables → its last index
	inMultiline := ""          // closing delimiter of a multi-line string or array
	depth := 0
	for i, line := range strings.Split(string(src), "\n") {
		n := i + 1
		s := strings.TrimSpace(line)
		if inMultiline != "" {
			if inMultiline == "]" {
				depth += strings.Count(s, "[") - strings.Count(s, "]")
				if depth <= 0 {
					inMultiline = ""
				}
			} else if strings.Contains(s, inMultiline) {
				inMultiline = ""
			}
			continue
		}
		if s == "" || s[0] == '#' {
			continue
		}
		if strings.HasPrefix(s, "[") {
			isArray := strings.HasPrefix(s, "[[")
			h := strings.TrimPrefix(strings.TrimPrefix(s, "["), "[")
			end := strings.Index(h, "]")
			if end < 0 {
				continue
			}
			table = indexed(splitKey(h[:end]), arrays, isArray)
			l.set(table, n)
			l.set(plain(table), n)
			continue
		}
		eq := indexOutsideQuotes(s, '=')
		if eq < 0 {
			continue
		}
		key := append(append([]string(nil), table...), splitKey(s[:eq])...)
		l.set(key, n)
		l.set(plain(key), n)
		v := strings.TrimSpace(s[eq+1:])
		switch {
		case strings.HasPrefix(v, `"""`) && strings.Count(v, `"""`) == 1:
			inMultiline = `"""`
		case strings.HasPrefix(v, "'''") && strings.Count(v, "'''") == 1:
			inMultiline = "'''"
		case strings.HasPrefix(v, "["):
			depth = strings.Count(v, "[") - strings.Count(v, "]")
			if depth > 0 {
				inMultiline = "]"
			}
		}
	}
	return l
}

func (l *Locator) set(key []string, line int) {
	k := strings.Join(key, "\x00")
	if _, ok := l.lines[k]; !ok {
		l.lines[k] = line
	}
}

// Line returns the line defining key, or of its nearest defined parent, or 0.
func (l *Locator) Line(key ...string) int {
	for n := len(key); n > 0; n-- {
		if line, ok := l.lines[strings.Join(key[:n], "\x00")]; ok {
			return line
		}
	}
	return 0
}

// indexed inserts array indices into a table header's path: every prefix
// that names an array of tables gets the index of its latest element, and a
// [[header]] itself starts a new element.
func indexed(path []string, arrays map[string]int, isArray bool) []string {
	var out []string
	for i, p := range path {
		out = append(out, p)
		k := strings.Join(out, "\x00")
		if i == len(path)-1 && isArray {
			next := 0
			if last, ok := arrays[k]; ok {
				next = last + 1
			}
			arrays[k] = next
			out = append(out, Index(next))
			continue
		}
		if last, ok := arrays[k]; ok {
			out = append(out, Index(last))
		}
	}
	return out
}

// plain drops the array indices from a path.
func plain(path []string) []string {
	out := make([]string, 0, len(path))
	for _, p := range path {
		if !strings.HasPrefix(p, "[") {
			out = append(out, p)
		}
	}
	return out
}

// splitKey splits a dotted TOML key, honouring quoted parts.
func splitKey(s string) []string {
	var parts []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

func indexOutsideQuotes(s string, sep byte) int {
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return -1
		case c == sep:
			return i
		}
	}
	return -1
}
