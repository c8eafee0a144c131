package gguf

import (
	"bytes"
	"strings"
	"testing"
)

// Check finds nothing on a file read back as written, and names the first
// difference in each part of the header a writer could get wrong.
func TestCheck(t *testing.T) {
	var buf bytes.Buffer
	if _, err := sample().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	read := func() *Header {
		h, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if err := read().Check(sample()); err != nil {
		t.Fatalf("Check of the file as written: %v", err)
	}
	size, err := sample().DataSize()
	if err != nil {
		t.Fatal(err)
	}
	if got := read().DataOffset + int64(size); got != int64(buf.Len()) {
		t.Errorf("DataOffset + DataSize = %d, the file is %d bytes", got, buf.Len())
	}
	for _, tc := range []struct {
		name string
		edit func(h *Header, f *File)
		want string
	}{
		{"version", func(h *Header, _ *File) { h.Version = 2 }, "read version 2, wrote 3"},
		{"metadata count", func(_ *Header, f *File) { f.Metadata = f.Metadata[1:] }, "read 14 metadata entries, wrote 13"},
		{"key", func(h *Header, _ *File) { h.Metadata[1].Key = "qwen3.blocks" }, `metadata entry 1: read key "qwen3.blocks", wrote "qwen3.block_count"`},
		{"value", func(h *Header, _ *File) { h.Metadata[1].Value = uint32(3) }, "metadata qwen3.block_count: read a different value"},
		{"value type", func(h *Header, _ *File) { h.Metadata[1].Value = int32(2) }, "(int32) from the one written (uint32)"},
		{"array", func(_ *Header, f *File) { f.Metadata[9].Value = []string{"a", "b", "c"} }, "metadata tokenizer.ggml.tokens: read a different value"},
		{"nil array", func(_ *Header, f *File) { f.Metadata[11].Value = []string(nil) }, ""},
		{"empty array of another type", func(_ *Header, f *File) { f.Metadata[11].Value = []int32{} }, "([]string) from the one written ([]int32)"},
		{"tensor count", func(h *Header, _ *File) { h.Tensors = h.Tensors[:3] }, "read 3 tensors, wrote 4"},
		{"tensor name", func(h *Header, _ *File) { h.Tensors[0].Name = "x" }, "tensor 0: read x [3 5] f32 at offset 0, wrote a [3 5] f32 at offset 0"},
		{"dims", func(h *Header, _ *File) { h.Tensors[1].Dims = []uint64{7, 1} }, "tensor 1: read b [7 1] f16"},
		{"type", func(h *Header, _ *File) { h.Tensors[2].Type = F16 }, "tensor 2: read c [32 2] f16"},
		{"offset", func(h *Header, _ *File) { h.Tensors[3].Offset += 32 }, "wrote d [3 5] f32 at offset"},
		{"bad size", func(_ *Header, f *File) { f.Tensors[2].Dims = []uint64{31, 2} }, "tensor c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, f := read(), sample()
			tc.edit(h, f)
			err := h.Check(f)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Check: %v, want %q", err, tc.want)
			}
		})
	}
}
