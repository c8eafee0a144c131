package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

func sample() *File {
	fill := func(b byte) func(io.Writer) error {
		return func(w io.Writer) error {
			_, err := w.Write(bytes.Repeat([]byte{b}, 4*3*5))
			return err
		}
	}
	return &File{
		Metadata: []KV{
			{"general.architecture", "qwen3"},
			{"qwen3.block_count", uint32(2)},
			{"qwen3.rope.freq_base", float32(1e6)},
			{"tokenizer.ggml.add_bos_token", false},
			{"general.file_type", int32(1)},
			{"big", uint64(1 << 40)},
			{"neg", int64(-3)},
			{"pi", 3.25},
			{"small", uint8(7)},
			{"tokenizer.ggml.tokens", []string{"a", "b", "<|im_end|>"}},
			{"tokenizer.ggml.token_type", []int32{1, 1, 3}},
			{"tokenizer.ggml.merges", []string{}},
			{"scores", []float32{0.5, -1}},
			{"ids", []uint32{9, 10}},
		},
		Tensors: []Tensor{
			{Name: "a", Dims: []uint64{3, 5}, Type: F32, Fill: fill(1)},
			{Name: "b", Dims: []uint64{7}, Type: F16}, // 14 bytes: next one needs padding
			{Name: "c", Dims: []uint64{32, 2}, Type: Q8_0},
			{Name: "d", Dims: []uint64{3, 5}, Type: F32, Fill: fill(2)},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	f := sample()
	var buf bytes.Buffer
	n, err := f.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteTo returned %d, wrote %d", n, buf.Len())
	}
	h, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != Version {
		t.Errorf("version %d", h.Version)
	}
	if !reflect.DeepEqual(h.Metadata[:11], f.Metadata[:11]) {
		t.Errorf("metadata:\n got %#v\nwant %#v", h.Metadata, f.Metadata)
	}
	if got := h.Metadata[11].Value.([]string); len(got) != 0 {
		t.Errorf("empty array read back as %v", got)
	}
	if !reflect.DeepEqual(h.Metadata[12:], f.Metadata[12:]) {
		t.Errorf("typed arrays: %#v", h.Metadata[12:])
	}
	if h.DataOffset%Alignment != 0 {
		t.Errorf("data offset %d not aligned", h.DataOffset)
	}
	wantOffsets := []uint64{0, 64, 96, 96 + 68 + 28}
	for i, ti := range h.Tensors {
		want := f.Tensors[i]
		if ti.Name != want.Name || !reflect.DeepEqual(ti.Dims, want.Dims) || ti.Type != want.Type {
			t.Errorf("tensor %d: %+v, want %+v", i, ti, want)
		}
		if ti.Offset != wantOffsets[i] {
			t.Errorf("tensor %s offset %d, want %d", ti.Name, ti.Offset, wantOffsets[i])
		}
	}
	data := buf.Bytes()[h.DataOffset:]
	if got := data[h.Tensors[3].Offset : h.Tensors[3].Offset+60]; !bytes.Equal(got, bytes.Repeat([]byte{2}, 60)) {
		t.Errorf("tensor d data: %v", got)
	}
	if got := data[h.Tensors[1].Offset : h.Tensors[1].Offset+14]; !bytes.Equal(got, make([]byte, 14)) {
		t.Errorf("tensor b (no Fill) is not zeros: %v", got)
	}
	if int64(len(data)) != int64(wantOffsets[3])+64 {
		t.Errorf("data section %d bytes", len(data))
	}
	if v, ok := h.Get("qwen3.block_count"); !ok || v != uint32(2) {
		t.Errorf("Get: %v %v", v, ok)
	}
}

func TestWriteErrors(t *testing.T) {
	cases := map[string]File{
		"q8_0 needs a multiple of 32": {Tensors: []Tensor{{Name: "x", Dims: []uint64{31}, Type: Q8_0}}},
		"wrote 3 bytes, want 4": {Tensors: []Tensor{{Name: "x", Dims: []uint64{1}, Type: F32, Fill: func(w io.Writer) error {
			_, err := w.Write([]byte{1, 2, 3})
			return err
		}}}},
		"unsupported metadata value": {Metadata: []KV{{"k", struct{}{}}}},
		"unsupported tensor type":    {Tensors: []Tensor{{Name: "x", Dims: []uint64{1}, Type: 99}}},
	}
	for want, f := range cases {
		_, err := f.WriteTo(io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

func TestReadErrors(t *testing.T) {
	var good bytes.Buffer
	if _, err := sample().WriteTo(&good); err != nil {
		t.Fatal(err)
	}
	huge := bytes.Clone(good.Bytes())
	binary.LittleEndian.PutUint64(huge[16:], 1<<62) // metadata count
	cases := map[string][]byte{
		"not a GGUF file":             []byte("GGML0000000000000000000000"),
		"does not fit (truncated)":    good.Bytes()[:100],
		"does not fit in the file":    huge,
		"unsupported version":         append([]byte("GGUF\x09\x00\x00\x00"), make([]byte, 16)...),
		"unexpected EOF (empty)":      nil,
		"unexpected EOF (magic only)": []byte("GGUF"),
	}
	// A stream that ends before the size it claims.
	if _, err := Read(bytes.NewReader(good.Bytes()[:100]), int64(good.Len())); err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Errorf("short stream: got %v", err)
	}
	for name, b := range cases {
		_, err := Read(bytes.NewReader(b), int64(len(b)))
		want, _, _ := strings.Cut(name, " (")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func FuzzRead(f *testing.F) {
	var good bytes.Buffer
	if _, err := sample().WriteTo(&good); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		if h.DataOffset%Alignment != 0 || h.DataOffset < 24 {
			t.Fatalf("data offset %d", h.DataOffset)
		}
	})
}

func ExampleFile_WriteTo() {
	f := &File{
		Metadata: []KV{{"general.architecture", "qwen3"}},
		Tensors:  []Tensor{{Name: "output_norm.weight", Dims: []uint64{64}, Type: F32}},
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		panic(err)
	}
	h, _ := Read(&buf, int64(buf.Len()))
	arch, _ := h.Get("general.architecture")
	fmt.Println(arch, h.Tensors[0].Name, h.Tensors[0].Dims, h.Tensors[0].Type)
	// Output: qwen3 output_norm.weight [64] f32
}
