// Package jsonfmt encodes results as JSON that is stable across runs and
// platforms: floats carry a fixed number of significant digits (so the last
// bits of floating-point arithmetic cannot change a golden file) and NaN or
// ±Inf become null (encoding/json refuses them). Struct field order and json
// tags (name, omitempty, "-") are honoured; map keys are sorted.
package jsonfmt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Digits is the number of significant digits floats are written with.
const Digits = 6

// Marshal encodes v with two-space indentation and a final newline.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := encode(&b, reflect.ValueOf(v), 0); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// Round returns v to Digits significant digits.
func Round(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', Digits, 64), 64)
	return r
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

func encode(b *bytes.Buffer, v reflect.Value, depth int) error {
	if !v.IsValid() {
		b.WriteString("null")
		return nil
	}
	if v.Type().Implements(marshalerType) && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		out, err := v.Interface().(json.Marshaler).MarshalJSON()
		if err != nil {
			return err
		}
		b.Write(out)
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			b.WriteString("null")
			return nil
		}
		return encode(b, v.Elem(), depth)
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			b.WriteString("null")
			return nil
		}
		r, format := Round(f), byte('f') // as encoding/json: exponents only outside [1e-6, 1e21)
		if a := math.Abs(r); a != 0 && (a < 1e-6 || a >= 1e21) {
			format = 'e'
		}
		b.WriteString(strconv.FormatFloat(r, format, -1, 64))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.String:
		s, _ := json.Marshal(v.String())
		b.Write(s)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			b.WriteString("null")
			return nil
		}
		if v.Len() == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteString("[")
		for i := range v.Len() {
			if i > 0 {
				b.WriteString(",")
			}
			newline(b, depth+1)
			if err := encode(b, v.Index(i), depth+1); err != nil {
				return err
			}
		}
		newline(b, depth)
		b.WriteString("]")
	case reflect.Map:
		keys := v.MapKeys()
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = fmt.Sprint(k.Interface())
		}
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, c int) int { return strings.Compare(names[a], names[c]) })
		b.WriteString("{")
		for n, i := range order {
			if n > 0 {
				b.WriteString(",")
			}
			newline(b, depth+1)
			k, _ := json.Marshal(names[i])
			b.Write(k)
			b.WriteString(": ")
			if err := encode(b, v.MapIndex(keys[i]), depth+1); err != nil {
				return err
			}
		}
		if len(order) > 0 {
			newline(b, depth)
		}
		b.WriteString("}")
	case reflect.Struct:
		return encodeStruct(b, v, depth)
	default:
		return fmt.Errorf("jsonfmt: cannot encode %s", v.Type())
	}
	return nil
}

func encodeStruct(b *bytes.Buffer, v reflect.Value, depth int) error {
	b.WriteString("{")
	n, err := encodeFields(b, v, depth, 0)
	if err != nil {
		return err
	}
	if n > 0 {
		newline(b, depth)
	}
	b.WriteString("}")
	return nil
}

// encodeFields writes v's fields after n already written, inlining
// untagged embedded structs (and non-nil pointers to them) as
// encoding/json does, and returns the new count.
func encodeFields(b *bytes.Buffer, v reflect.Value, depth, n int) (int, error) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			fv := v.Field(i)
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct {
				var err error
				if n, err = encodeFields(b, fv, depth, n); err != nil {
					return n, err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fv := v.Field(i)
		if strings.Contains(opts, "omitempty") && fv.IsZero() {
			continue
		}
		if n > 0 {
			b.WriteString(",")
		}
		n++
		newline(b, depth+1)
		k, _ := json.Marshal(name)
		b.Write(k)
		b.WriteString(": ")
		if err := encode(b, fv, depth+1); err != nil {
			return n, err
		}
	}
	return n, nil
}

func newline(b *bytes.Buffer, depth int) {
	b.WriteByte('\n')
	for range depth {
		b.WriteString("  ")
	}
}
