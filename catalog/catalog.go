// Package catalog describes what fleettwin can simulate: model architectures,
// weight formats, KV-cache types and hardware. It reads them from TOML
// (models.toml at the repository root is built in) and refuses anything it
// does not understand, naming the file, line and field.
package catalog

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// Catalog is a validated set of models, formats, KV types and hardware, each
// keyed by the name users type on the command line.
type Catalog struct {
	Models   map[string]Model    `toml:"models"`
	Formats  map[string]Format   `toml:"formats"`
	KVTypes  map[string]KVType   `toml:"kv_types"`
	Hardware map[string]Hardware `toml:"hardware"`
	// Interconnects and NodeTypes describe machines of several devices
	// (node.go); a node group names a node type or a plain device.
	Interconnects map[string]Interconnect `toml:"interconnects"`
	NodeTypes     map[string]NodeType     `toml:"node_types"`
}

// Default returns the built-in catalog. It panics if the embedded file is
// invalid, which the package tests rule out.
func Default() *Catalog {
	c, err := Parse(fleettwin.CatalogFile, fleettwin.CatalogTOML)
	if err == nil {
		err = c.checkRefs()
	}
	if err != nil {
		panic(fmt.Sprintf("built-in catalog: %v", err))
	}
	return c
}

// Load returns the built-in catalog with each file's entries applied on top,
// in order: an entry replaces the one of the same name, a new name is added.
func Load(paths ...string) (*Catalog, error) {
	c := Default()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("load catalog: %w", err)
		}
		o, err := Parse(p, data)
		if err != nil {
			return nil, err
		}
		c.Merge(o)
	}
	if err := c.checkRefs(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes and validates one catalog file. name is used in errors only.
// A file may hold any subset of the sections; every entry in it must be
// complete on its own.
func Parse(name string, data []byte) (*Catalog, error) {
	var c Catalog
	md, err := tomlcheck.Decode(name, data, &c)
	if err != nil {
		return nil, err
	}
	v := validator{Errors: tomlcheck.NewErrors(name, data), md: md}
	v.Unknown(md)
	nameAll(c.Models, func(m *Model, n string) { m.Name = n }, v.model)
	nameAll(c.Formats, func(f *Format, n string) { f.Name = n }, v.format)
	nameAll(c.KVTypes, func(k *KVType, n string) { k.Name = n }, v.kvType)
	nameAll(c.Hardware, func(h *Hardware, n string) { h.Name = n }, v.hardware)
	nameAll(c.Interconnects, func(l *Interconnect, n string) { l.Name = n }, v.interconnect)
	nameAll(c.NodeTypes, func(t *NodeType, n string) { t.Name = n }, v.nodeType)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Merge applies o on top of c: entries of o replace those of the same name.
func (c *Catalog) Merge(o *Catalog) {
	c.Models = mergeMap(c.Models, o.Models)
	c.Formats = mergeMap(c.Formats, o.Formats)
	c.KVTypes = mergeMap(c.KVTypes, o.KVTypes)
	c.Hardware = mergeMap(c.Hardware, o.Hardware)
	c.Interconnects = mergeMap(c.Interconnects, o.Interconnects)
	c.NodeTypes = mergeMap(c.NodeTypes, o.NodeTypes)
}

func mergeMap[V any](dst, src map[string]V) map[string]V {
	if dst == nil {
		dst = make(map[string]V, len(src))
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// Model returns the named model, or an error listing the valid names.
func (c *Catalog) Model(name string) (Model, error) { return lookup(c.Models, "model", name) }

// Format returns the named weight format, or an error listing the valid names.
func (c *Catalog) Format(name string) (Format, error) {
	return lookup(c.Formats, "weight format", name)
}

// KVType returns the named KV-cache type, or an error listing the valid names.
func (c *Catalog) KVType(name string) (KVType, error) {
	return lookup(c.KVTypes, "KV-cache type", name)
}

// HardwareNamed returns the named hardware, or an error listing the valid names.
func (c *Catalog) HardwareNamed(name string) (Hardware, error) {
	return lookup(c.Hardware, "hardware", name)
}

// UnknownNameError says a name is not in the catalog and lists the valid ones.
type UnknownNameError struct {
	Kind  string
	Name  string
	Valid []string
}

func (e *UnknownNameError) Error() string {
	hint := ""
	if strings.EqualFold(e.Name, "qwen3-7b") {
		hint = " (there is no Qwen3-7B; the nearest is qwen3-8b)"
	}
	return fmt.Sprintf("unknown %s %q%s; valid: %s", e.Kind, e.Name, hint, strings.Join(e.Valid, ", "))
}

func lookup[V any](m map[string]V, kind, name string) (V, error) {
	if v, ok := m[name]; ok {
		return v, nil
	}
	// Names are case-insensitive for users typing Qwen3-8B.
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, nil
		}
	}
	var zero V
	return zero, &UnknownNameError{Kind: kind, Name: name, Valid: sortedKeys(m)}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// nameAll gives every entry of a table its key as its name, then checks
// it, in key order so that errors come out in a stable order.
func nameAll[T any](m map[string]T, setName func(*T, string), check func(T)) {
	for _, n := range sortedKeys(m) {
		x := m[n]
		setName(&x, n)
		m[n] = x
		check(x)
	}
}
