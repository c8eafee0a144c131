package tomlcheck

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	tests := []struct {
		name, src string
		line      int // 0: accepted; else the line of the error
	}{
		{"plain", "a = 1\n[t]\nb.c = 'x'\n[[arr]]\nd = [1, [2, {e = 3}]]\n", 0},
		{"floats in arrays", "a = [" + strings.Repeat("1.5, ", 1000) + "2.5]\n", 0},
		{"dots in strings", "a = \"" + strings.Repeat(".", 1000) + "\"\n", 0},
		{"dots in multi-line strings", "a = '''\n" + strings.Repeat(".", 1000) + "\n'''\nb = 1\n", 0},
		{"brackets in strings", "a = \"" + strings.Repeat("[", 1000) + "\"\n", 0},
		{"brackets in comments", "# " + strings.Repeat("[{", 1000) + "\n", 0},
		{"multi-line array", "a = [\n" + strings.Repeat(" [1],\n", 100) + "]\n", 0},
		{"deep arrays", "\n\na = " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n", 3},
		{"deep inline tables", "x = 1\na = " + strings.Repeat("{b = ", 40) + "1" + strings.Repeat("}", 40), 2},
		{"nothing but brackets", strings.Repeat("[", 1000), 1},
		{"long dotted key", strings.Repeat("a.", 40) + "a = 1", 1},
		{"long dotted header", "\n[" + strings.Repeat("a.", 40) + "a]\n", 2},
		{"long key in inline table", "t = {" + strings.Repeat("a.", 40) + "a = 1}", 1},
		{"32 parts", strings.Repeat("a.", 31) + "a = 1", 0},
		{"32 levels", "a = " + strings.Repeat("[", 32) + strings.Repeat("]", 32), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Guard([]byte(tt.src))
			if tt.line == 0 {
				if err != nil {
					t.Fatalf("Guard: %v, want accepted", err)
				}
				return
			}
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("Guard = %v, want a *LimitError", err)
			}
			if le.Line != tt.line {
				t.Errorf("line %d, want %d (%v)", le.Line, tt.line, err)
			}
		})
	}
}

func TestGuardSize(t *testing.T) {
	err := Guard(make([]byte, MaxBytes+1))
	if err == nil || !strings.Contains(err.Error(), "limit is 1048576") {
		t.Fatalf("Guard(1 MiB + 1) = %v", err)
	}
	if err := Guard([]byte(strings.Repeat("# x\n", MaxBytes/4))); err != nil {
		t.Fatalf("Guard(1 MiB of comments) = %v", err)
	}
}

// The project's own TOML files must stay far inside the limits.
func TestGuardShippedFiles(t *testing.T) {
	var files []string
	for _, pat := range []string{"../../*.toml", "../../*/*.toml", "../../*/*/*.toml", "../../*/*/*/*.toml"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d shipped TOML files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := Guard(data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestNumber(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tt := range []struct {
		v, lo, hi float64
		want      string
	}{
		{1, 0, 2, ""},
		{0, 0, 2, ""},
		{2, 0, 2, ""},
		{3, 0, 2, "must be between 0 and 2, not 3"},
		{nan, 0, 2, "must be a finite number between 0 and 2, not NaN"},
		{inf, 0, 1e6, "must be a finite number between 0 and 1e+06, not +Inf"},
		{-inf, 0, 1, "must be a finite number between 0 and 1, not -Inf"},
	} {
		if got := Number(tt.v, tt.lo, tt.hi); got != tt.want {
			t.Errorf("Number(%v, %v, %v) = %q, want %q", tt.v, tt.lo, tt.hi, got, tt.want)
		}
	}
	if got := Int(7, 1, 5); got != "must be between 1 and 5, not 7" {
		t.Errorf("Int = %q", got)
	}
}

func FuzzGuard(f *testing.F) {
	f.Add([]byte("a = 1\n[t]\nb = [1, {c = 2}]\n"))
	f.Add([]byte(strings.Repeat("[", 100)))
	f.Add([]byte("a = \"\"\"\n[[[\n\"\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Guard(data) // must not panic or hang
	})
}

func TestNonFinite(t *testing.T) {
	type inner struct {
		X float64 `toml:"x"`
		Y float64
	}
	type doc struct {
		A    float64            `toml:"a,omitempty"`
		B    *inner             `toml:"b"`
		M    map[string]inner   `toml:"m"`
		L    []float64          `toml:"l"`
		Skip float64            `toml:"-"`
		P    map[string]float64 `toml:"p"`
		SE   float64            `toml:"se" tomlcheck:"nonfinite"`
	}
	nan := math.NaN()
	d := doc{A: math.Inf(1), B: &inner{X: 1, Y: nan}, M: map[string]inner{"z": {X: nan}, "a": {X: 2}},
		L: []float64{1, math.Inf(-1)}, Skip: nan, P: map[string]float64{"q": 1}, SE: nan}
	got := NonFinite(&d)
	want := [][]string{{"a"}, {"b", "Y"}, {"m", "z", "x"}, {"l", "[1]"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NonFinite = %q, want %q", got, want)
	}
	if got := NonFinite(doc{}); len(got) != 0 {
		t.Errorf("NonFinite(zero) = %q", got)
	}
}

// BenchmarkGuard shows the guard is linear: compare the ns/op of the sizes
// (each is 4× the previous). go test -bench Guard ./internal/tomlcheck
func BenchmarkGuard(b *testing.B) {
	unit := "[t.a]\nx = [1, {y = 'z'}, \"s.t\"] # c\n"
	for _, n := range []int{1 << 12, 1 << 14, 1 << 16, 1 << 18} {
		src := []byte(strings.Repeat(unit, n/len(unit)))
		b.Run(strconv.Itoa(len(src)), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if err := Guard(src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
