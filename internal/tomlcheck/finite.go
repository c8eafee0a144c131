package tomlcheck

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// NonFinite returns the key path of every NaN or infinite float in a decoded
// document (structs by their toml tags, maps by key, slices by "[i]"), in a
// stable order. TOML spells them nan and inf, and no field of the project
// means either, so every reader rejects them all in one place; ranges are
// then each field's own check. A field tagged `tomlcheck:"nonfinite"` may
// hold them (a standard error is NaN where a fit could not identify it).
func NonFinite(v any) [][]string {
	var out [][]string
	walk(reflect.ValueOf(v), nil, &out)
	return out
}

func walk(v reflect.Value, path []string, out *[][]string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walk(v.Elem(), path, out)
		}
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			*out = append(*out, slices.Clone(path))
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("tomlcheck") == "nonfinite" {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			walk(v.Field(i), append(path, name), out)
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			walk(v.MapIndex(k), append(path, k.String()), out)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walk(v.Index(i), append(path, "["+strconv.Itoa(i)+"]"), out)
		}
	}
}
