package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
)

// Header is what Read returns: the metadata and tensor descriptions, and
// where the data section starts.
type Header struct {
	Version    uint32
	Metadata   []KV
	Tensors    []TensorInfo
	DataOffset int64
}

// TensorInfo is a tensor as described in a file.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   TensorType
	Offset uint64 // from the start of the data section
}

// Get returns a metadata value by key.
func (h *Header) Get(key string) (any, bool) {
	for _, kv := range h.Metadata {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Read parses a file's header, metadata and tensor descriptions. It
// refuses counts and lengths that could not fit in the stream it is given
// (limit bytes), so a corrupt file cannot make it allocate without bound.
func Read(r io.Reader, limit int64) (*Header, error) {
	d := decoder{r: bufio.NewReader(r), limit: limit}
	if m := d.u32(); m != Magic && d.err == nil {
		return nil, fmt.Errorf("gguf: not a GGUF file (magic %#x)", m)
	}
	h := &Header{Version: d.u32()}
	if d.err == nil && h.Version != 3 && h.Version != 2 {
		return nil, fmt.Errorf("gguf: unsupported version %d", h.Version)
	}
	nt, nkv := d.count(8), d.count(8)
	for i := uint64(0); i < nkv && d.err == nil; i++ {
		k := d.str()
		v := d.value(ValueType(d.u32()))
		h.Metadata = append(h.Metadata, KV{k, v})
	}
	for i := uint64(0); i < nt && d.err == nil; i++ {
		t := TensorInfo{Name: d.str()}
		n := d.u32()
		if n > 8 && d.err == nil {
			d.err = fmt.Errorf("tensor %s has %d dimensions", t.Name, n)
		}
		for j := uint32(0); j < n && d.err == nil; j++ {
			t.Dims = append(t.Dims, d.u64())
		}
		t.Type = TensorType(d.u32())
		t.Offset = d.u64()
		h.Tensors = append(h.Tensors, t)
	}
	if d.err != nil {
		return nil, fmt.Errorf("gguf: at byte %d: %w", d.n, d.err)
	}
	h.DataOffset = int64(align(uint64(d.n)))
	return h, nil
}

type decoder struct {
	r     *bufio.Reader
	n     int64
	limit int64
	err   error
}

func (d *decoder) read(v any) {
	if d.err != nil {
		return
	}
	d.err = binary.Read(d.r, binary.LittleEndian, v)
	d.n += int64(binary.Size(v))
	if errors.Is(d.err, io.EOF) {
		d.err = io.ErrUnexpectedEOF
	}
}

func (d *decoder) u32() uint32 {
	var v uint32
	d.read(&v)
	return v
}

func (d *decoder) u64() uint64 {
	var v uint64
	d.read(&v)
	return v
}

// count reads a count of items of at least size bytes each and checks it
// fits in what is left of the stream.
func (d *decoder) count(size int64) uint64 {
	n := d.u64()
	if d.err == nil && (n > uint64(math.MaxInt64/size) || int64(n)*size > d.limit-d.n) {
		d.err = fmt.Errorf("count %d does not fit in the file", n)
		return 0
	}
	return n
}

func (d *decoder) str() string {
	n := d.count(1)
	if d.err != nil {
		return ""
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.err = io.ErrUnexpectedEOF
		return ""
	}
	d.n += int64(n)
	return string(b)
}

func (d *decoder) value(t ValueType) any {
	switch t {
	case TypeUint8:
		return scalar[uint8](d)
	case TypeInt8:
		return scalar[int8](d)
	case TypeUint16:
		return scalar[uint16](d)
	case TypeInt16:
		return scalar[int16](d)
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		return scalar[int32](d)
	case TypeFloat32:
		return scalar[float32](d)
	case TypeBool:
		return scalar[bool](d)
	case TypeString:
		return d.str()
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		return scalar[int64](d)
	case TypeFloat64:
		return scalar[float64](d)
	case TypeArray:
		et := ValueType(d.u32())
		n := d.count(1)
		switch et {
		case TypeString:
			out := make([]string, 0, min(n, 1<<16))
			for i := uint64(0); i < n && d.err == nil; i++ {
				out = append(out, d.str())
			}
			return out
		case TypeInt32:
			return readArray[int32](d, n)
		case TypeUint32:
			return readArray[uint32](d, n)
		case TypeFloat32:
			return readArray[float32](d, n)
		default:
			out := make([]any, 0, min(n, 1<<16))
			for i := uint64(0); i < n && d.err == nil; i++ {
				out = append(out, d.value(et))
			}
			return out
		}
	}
	if d.err == nil {
		d.err = fmt.Errorf("unknown value type %d", t)
	}
	return nil
}

// scalar reads one fixed-size value.
func scalar[T any](d *decoder) any {
	var v T
	d.read(&v)
	return v
}

// readArray reads n fixed-size values; the capacity is capped so a corrupt
// count cannot allocate beyond what the stream holds.
func readArray[T int32 | uint32 | float32](d *decoder, n uint64) []T {
	out := make([]T, 0, min(n, 1<<16))
	for i := uint64(0); i < n && d.err == nil; i++ {
		var v T
		d.read(&v)
		out = append(out, v)
	}
	return out
}

// Check returns the first difference between h, read back from a file, and
// f, the content the file was written from: the version, every metadata
// key and value in order, and every tensor's name, shape, type and data
// offset. A writer calls it to know that what a reader (llama.cpp, Ollama)
// will see is what it meant to write.
func (h *Header) Check(f *File) error {
	if h.Version != Version {
		return fmt.Errorf("gguf: read version %d, wrote %d", h.Version, Version)
	}
	if len(h.Metadata) != len(f.Metadata) {
		return fmt.Errorf("gguf: read %d metadata entries, wrote %d", len(h.Metadata), len(f.Metadata))
	}
	for i, kv := range f.Metadata {
		got := h.Metadata[i]
		if got.Key != kv.Key {
			return fmt.Errorf("gguf: metadata entry %d: read key %q, wrote %q", i, got.Key, kv.Key)
		}
		// Values are compared whole but not printed: a vocabulary is
		// hundreds of thousands of strings.
		if !sameValue(got.Value, kv.Value) {
			return fmt.Errorf("gguf: metadata %s: read a different value (%T) from the one written (%T)", kv.Key, got.Value, kv.Value)
		}
	}
	if len(h.Tensors) != len(f.Tensors) {
		return fmt.Errorf("gguf: read %d tensors, wrote %d", len(h.Tensors), len(f.Tensors))
	}
	var offset uint64
	for i, t := range f.Tensors {
		size, err := t.Size()
		if err != nil {
			return fmt.Errorf("gguf: tensor %s: %w", t.Name, err)
		}
		got := h.Tensors[i]
		if got.Name != t.Name || !slices.Equal(got.Dims, t.Dims) || got.Type != t.Type || got.Offset != offset {
			return fmt.Errorf("gguf: tensor %d: read %s %v %s at offset %d, wrote %s %v %s at offset %d",
				i, got.Name, got.Dims, got.Type, got.Offset, t.Name, t.Dims, t.Type, offset)
		}
		offset = align(offset + size)
	}
	return nil
}

// sameValue reports whether a metadata value read back is the one
// written: of the same type and equal, an empty array being equal to a nil
// one (both are written as zero elements).
func sameValue(read, wrote any) bool {
	if reflect.TypeOf(read) != reflect.TypeOf(wrote) {
		return false
	}
	if r, w := reflect.ValueOf(read), reflect.ValueOf(wrote); r.Kind() == reflect.Slice && r.Len() == 0 && w.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(read, wrote)
}

// DataSize is the length of f's data section, each tensor padded to
// Alignment: a file written from f is its header's DataOffset plus this.
func (f *File) DataSize() (uint64, error) {
	var n uint64
	for _, t := range f.Tensors {
		size, err := t.Size()
		if err != nil {
			return 0, fmt.Errorf("gguf: tensor %s: %w", t.Name, err)
		}
		n = align(n + size)
	}
	return n, nil
}
