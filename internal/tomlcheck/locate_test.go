package tomlcheck

import "testing"

func TestLocator(t *testing.T) {
	src := `# comment
top = 1
[a.b]
x = 1
"y.z" = [
  1, 2,
]
w = """
multi
"""
[c."d.e"]
f = 'g' # trailing
`
	l := NewLocator([]byte(src))
	tests := []struct {
		key  []string
		want int
	}{
		{[]string{"top"}, 2},
		{[]string{"a", "b"}, 3},
		{[]string{"a", "b", "x"}, 4},
		{[]string{"a", "b", "y.z"}, 5},
		{[]string{"a", "b", "w"}, 8},
		{[]string{"c", "d.e", "f"}, 12},
		{[]string{"c", "d.e", "missing"}, 11},
		{[]string{"nowhere"}, 0},
	}
	for _, tt := range tests {
		if got := l.Line(tt.key...); got != tt.want {
			t.Errorf("Line(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

func TestLocatorArrays(t *testing.T) {
	src := `name = "x"
[[nodes]]
name = "a"
[[nodes.instances]]
model = "m1"
[[nodes.instances]]
model = "m2"
[[nodes]]
name = "b"
count = 3
[[nodes.instances]]
model = "m3"
`
	l := NewLocator([]byte(src))
	tests := []struct {
		key  []string
		want int
	}{
		{[]string{"nodes", Index(0), "name"}, 3},
		{[]string{"nodes", Index(0), "instances", Index(1), "model"}, 7},
		{[]string{"nodes", Index(1)}, 8},
		{[]string{"nodes", Index(1), "count"}, 10},
		{[]string{"nodes", Index(1), "instances", Index(0), "model"}, 12},
		{[]string{"nodes", Index(1), "instances", Index(0), "quant"}, 11}, // missing: its table
		{[]string{"nodes", "instances", "model"}, 5},                      // unindexed: first occurrence
	}
	for _, tt := range tests {
		if got := l.Line(tt.key...); got != tt.want {
			t.Errorf("Line(%s) = %d, want %d", FieldPath(tt.key...), got, tt.want)
		}
	}
	if got := FieldPath("nodes", Index(1), "instances", Index(0), "quant"); got != "nodes[1].instances[0].quant" {
		t.Errorf("FieldPath = %q", got)
	}
}
