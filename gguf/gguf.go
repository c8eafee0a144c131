// Package gguf writes and reads GGUF files (version 3), the model format of
// llama.cpp and Ollama. fleettwin writes its own random-weight models with
// it: inference speed does not depend on the weights' values, and no weights
// can be downloaded where the tests run.
//
// A file is a header, typed key-value metadata, tensor descriptions, and the
// tensor data, each tensor aligned to Alignment bytes. Tensor data is
// produced by a callback while writing, so a model larger than memory can be
// streamed to disk.
package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// Magic opens every GGUF file ("GGUF" little-endian).
const Magic = 0x46554747

// Version is the GGUF version written.
const Version = 3

// Alignment of tensor data (general.alignment's default).
const Alignment = 32

// ValueType is a metadata value's type.
type ValueType uint32

// Metadata value types.
const (
	TypeUint8 ValueType = iota
	TypeInt8
	TypeUint16
	TypeInt16
	TypeUint32
	TypeInt32
	TypeFloat32
	TypeBool
	TypeString
	TypeArray
	TypeUint64
	TypeInt64
	TypeFloat64
)

// TensorType is a ggml tensor element type.
type TensorType uint32

// Tensor types written by this package.
const (
	F32  TensorType = 0
	F16  TensorType = 1
	Q8_0 TensorType = 8
	BF16 TensorType = 30
)

// String is the type's name as ggml spells it.
func (t TensorType) String() string {
	switch t {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case Q8_0:
		return "q8_0"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("type%d", uint32(t))
}

// bytesPer returns the size of n elements of type t.
func (t TensorType) bytesPer(n uint64) (uint64, error) {
	switch t {
	case F32:
		return 4 * n, nil
	case F16, BF16:
		return 2 * n, nil
	case Q8_0:
		if n%32 != 0 {
			return 0, fmt.Errorf("q8_0 needs a multiple of 32 elements, got %d", n)
		}
		return n / 32 * 34, nil
	}
	return 0, fmt.Errorf("unsupported tensor type %d", t)
}

// KV is one metadata entry. Value is one of uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64, or a slice
// of one of those ([]string, []int32, []float32, ...).
type KV struct {
	Key   string
	Value any
}

// Tensor describes one tensor. Dims are in ggml order: Dims[0] is the
// innermost (contiguous) dimension, so a linear layer y = W x with W of
// shape (out, in) has Dims {in, out}.
type Tensor struct {
	Name string
	Dims []uint64
	Type TensorType
	// Fill writes the tensor's data (exactly Size bytes) when the file is
	// written; nil writes zeros.
	Fill func(w io.Writer) error
}

// Elements is the number of elements.
func (t Tensor) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Size is the tensor's data size in bytes.
func (t Tensor) Size() (uint64, error) { return t.Type.bytesPer(t.Elements()) }

// File is a GGUF file's content.
type File struct {
	Metadata []KV
	Tensors  []Tensor
}

// Get returns a metadata value by key.
func (f *File) Get(key string) (any, bool) {
	for _, kv := range f.Metadata {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// WriteTo writes the file: header, metadata, tensor infos, aligned data.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: bufio.NewWriterSize(w, 1<<20)}
	e := encoder{w: cw}
	e.u32(Magic)
	e.u32(Version)
	e.u64(uint64(len(f.Tensors)))
	e.u64(uint64(len(f.Metadata)))
	for _, kv := range f.Metadata {
		e.str(kv.Key)
		e.value(kv.Value, true)
	}
	var offset uint64
	sizes := make([]uint64, len(f.Tensors))
	for i, t := range f.Tensors {
		size, err := t.Size()
		if err != nil {
			return cw.n, fmt.Errorf("gguf: tensor %s: %w", t.Name, err)
		}
		sizes[i] = size
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(offset)
		offset = align(offset + size)
	}
	if e.err != nil {
		return cw.n, fmt.Errorf("gguf: %w", e.err)
	}
	e.pad()
	for i, t := range f.Tensors {
		start := cw.n
		var err error
		if t.Fill != nil {
			err = t.Fill(cw)
		} else {
			_, err = io.CopyN(cw, zeros{}, int64(sizes[i]))
		}
		if err != nil {
			return cw.n, fmt.Errorf("gguf: tensor %s: %w", t.Name, err)
		}
		if got := uint64(cw.n - start); got != sizes[i] {
			return cw.n, fmt.Errorf("gguf: tensor %s: wrote %d bytes, want %d", t.Name, got, sizes[i])
		}
		e.pad()
	}
	if e.err != nil {
		return cw.n, fmt.Errorf("gguf: %w", e.err)
	}
	return cw.n, cw.w.(*bufio.Writer).Flush()
}

func align(n uint64) uint64 { return (n + Alignment - 1) / Alignment * Alignment }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type encoder struct {
	w   *countingWriter
	err error
}

func (e *encoder) put(v any) {
	if e.err == nil {
		e.err = binary.Write(e.w, binary.LittleEndian, v)
	}
}
func (e *encoder) u32(v uint32) { e.put(v) }
func (e *encoder) u64(v uint64) { e.put(v) }
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	if e.err == nil {
		_, e.err = io.WriteString(e.w, s)
	}
}

func (e *encoder) pad() {
	if n := align(uint64(e.w.n)) - uint64(e.w.n); n > 0 && e.err == nil {
		_, e.err = e.w.Write(make([]byte, n))
	}
}

// value writes a metadata value, with its type tag when tagged.
func (e *encoder) value(v any, tagged bool) {
	tag := func(t ValueType) {
		if tagged {
			e.u32(uint32(t))
		}
	}
	switch x := v.(type) {
	case uint8:
		tag(TypeUint8)
		e.put(x)
	case int8:
		tag(TypeInt8)
		e.put(x)
	case uint16:
		tag(TypeUint16)
		e.put(x)
	case int16:
		tag(TypeInt16)
		e.put(x)
	case uint32:
		tag(TypeUint32)
		e.put(x)
	case int32:
		tag(TypeInt32)
		e.put(x)
	case float32:
		tag(TypeFloat32)
		e.put(x)
	case bool:
		tag(TypeBool)
		e.put(x)
	case string:
		tag(TypeString)
		e.str(x)
	case uint64:
		tag(TypeUint64)
		e.put(x)
	case int64:
		tag(TypeInt64)
		e.put(x)
	case float64:
		tag(TypeFloat64)
		e.put(x)
	case []string:
		e.array(TypeString, len(x), func(i int) { e.str(x[i]) })
	case []int32:
		e.array(TypeInt32, len(x), func(i int) { e.put(x[i]) })
	case []uint32:
		e.array(TypeUint32, len(x), func(i int) { e.put(x[i]) })
	case []float32:
		e.array(TypeFloat32, len(x), func(i int) { e.put(x[i]) })
	default:
		if e.err == nil {
			e.err = fmt.Errorf("unsupported metadata value %T", v)
		}
	}
}

func (e *encoder) array(t ValueType, n int, each func(int)) {
	e.u32(uint32(TypeArray))
	e.u32(uint32(t))
	e.u64(uint64(n))
	for i := range n {
		each(i)
	}
}
