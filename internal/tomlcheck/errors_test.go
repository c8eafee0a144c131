package tomlcheck

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorsSortByLineKeepingOrderWithinALine(t *testing.T) {
	src := []byte("a = 1\nb = 2\n[t]\nc = 3\n")
	e := NewErrors("f.toml", src)
	e.Add([]string{"t", "c"}, "third")
	e.AddKind(Missing, []string{"b"}, "second, first of line 2")
	e.Add([]string{"b"}, "second, second of line 2")
	e.Add([]string{"a"}, "first")
	err := e.Err()
	want := "f.toml:1: a: first\nf.toml:2: b: second, first of line 2\nf.toml:2: b: second, second of line 2\nf.toml:4: t.c: third"
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	if !Has(err, Missing) || Has(err, NoFit) {
		t.Errorf("Has(Missing) = %v, Has(NoFit) = %v; want true, false", Has(err, Missing), Has(err, NoFit))
	}
	if !Has(fmt.Errorf("wrapped: %w", err), Missing) {
		t.Error("Has does not see through wrapping")
	}
	if NewErrors("g.toml", nil).Err() != nil {
		t.Error("an empty collection is not a nil error")
	}
}

func TestFieldPathQuotesWhatIsNotBare(t *testing.T) {
	for _, tc := range []struct {
		key  []string
		want string
	}{
		{[]string{"nodes", "[1]", "instances", "[0]", "quant"}, "nodes[1].instances[0].quant"},
		{[]string{"models", "qwen3.5", "layers"}, `models."qwen3.5".layers`},
		{[]string{"models", "", "x"}, `models."".x`},
		{[]string{"a_b-9"}, "a_b-9"},
	} {
		if got := FieldPath(tc.key...); got != tc.want {
			t.Errorf("FieldPath(%q) = %s, want %s", tc.key, got, tc.want)
		}
	}
}

func TestDecodeReportsKinds(t *testing.T) {
	var v struct{ X float64 }
	for _, tc := range []struct {
		src  string
		kind Kind
	}{
		{"x = nan\n", OutOfRange},
		{"x = \n", Syntax},
		{`x = "s"` + "\n", Syntax},
		{strings.Repeat("[", 40), TooLarge},
	} {
		_, err := Decode("d.toml", []byte(tc.src), &v)
		if !Has(err, tc.kind) {
			t.Errorf("Decode(%q) = %v, want a %s problem", tc.src, err, tc.kind)
		}
		var l ErrorList
		if !errors.As(err, &l) || l[0].File != "d.toml" {
			t.Errorf("Decode(%q) = %v, want an ErrorList naming d.toml", tc.src, err)
		}
	}
}
