package randmodel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/gguf"
)

// WriteFile leaves a model that reads back as built; Verify refuses one
// that does not, whatever part of it differs, and a refused write leaves no
// file behind.
func TestWriteFileVerifies(t *testing.T) {
	m := tinyModel(t, "qwen3-tiny")
	build := func(opt Options) *gguf.File {
		f, err := Build(m, opt)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny.gguf")
	f := build(Options{Weights: gguf.Q8_0, Seed: 1})
	size, err := WriteFile(path, f)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != size {
		t.Fatalf("WriteFile reported %d bytes; stat %v, %v", size, st, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte     // the file on disk
		f    *gguf.File // what it should be
		want string     // "" passes
	}{
		{"as written", data, f, ""},
		{"other seed", data, build(Options{Weights: gguf.Q8_0, Seed: 2}), "metadata general.description: read a different value"},
		{"other context", data, build(Options{Weights: gguf.Q8_0, Seed: 1, ContextLength: 64}), "metadata qwen3.context_length: read a different value"},
		{"other format", data, build(Options{Weights: gguf.F16, Seed: 1}), "tensor"},
		{"truncated data", data[:len(data)-1], f, "bytes, but its header and tensors take"},
		{"extra bytes", append(append([]byte(nil), data...), 0), f, "bytes, but its header and tensors take"},
		{"truncated header", data[:64], f, "does not fit in the file"},
		{"not gguf", []byte("GGML but not really"), f, "not a GGUF file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "check.gguf")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			err := Verify(p, tc.f)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Verify: %v, want %q", err, tc.want)
			}
		})
	}
}
