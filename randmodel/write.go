package randmodel

import (
	"fmt"
	"io"
	"os"

	"github.com/fleettwin/fleettwin/gguf"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
)

// WriteFile writes f to path (atomically: a reader never sees half a
// model) and then verifies it, returning the file's size. A model that
// does not read back as written is removed: Ollama would otherwise fail on
// it minutes later, or serve a model of another shape without a word.
func WriteFile(path string, f *gguf.File) (int64, error) {
	var size int64
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		n, err := f.WriteTo(w)
		size = n
		return err
	})
	if err != nil {
		return size, err
	}
	if err := Verify(path, f); err != nil {
		os.Remove(path)
		return size, err
	}
	return size, nil
}

// Verify reads the GGUF file at path back with the gguf reader and checks
// it against f, the content it was written from: the header and metadata,
// the tensor table (names, shapes, types, offsets), and a length that
// holds every tensor's data.
func Verify(path string, f *gguf.File) error {
	r, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("randmodel: verify: %w", err)
	}
	defer r.Close()
	st, err := r.Stat()
	if err != nil {
		return fmt.Errorf("randmodel: verify: %w", err)
	}
	h, err := gguf.Read(r, st.Size())
	if err != nil {
		return fmt.Errorf("randmodel: verify %s: %w", path, err)
	}
	if err := h.Check(f); err != nil {
		return fmt.Errorf("randmodel: verify %s: %w", path, err)
	}
	data, err := f.DataSize()
	if err != nil {
		return fmt.Errorf("randmodel: verify %s: %w", path, err)
	}
	if want := h.DataOffset + int64(data); st.Size() != want {
		return fmt.Errorf("randmodel: verify %s: %d bytes, but its header and tensors take %d", path, st.Size(), want)
	}
	return nil
}
