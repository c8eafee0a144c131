package catalog

import "maps"

// Extend returns a new catalog: c with the entries of the file name
// (its TOML in data) on top, as Load applies a file. c itself is not
// changed, so one shared catalog (a dashboard's) can be extended per
// plan without the extension leaking into it.
func (c *Catalog) Extend(name string, data []byte) (*Catalog, error) {
	o, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	n := &Catalog{
		Models:        maps.Clone(c.Models),
		Formats:       maps.Clone(c.Formats),
		KVTypes:       maps.Clone(c.KVTypes),
		Hardware:      maps.Clone(c.Hardware),
		Interconnects: maps.Clone(c.Interconnects),
		NodeTypes:     maps.Clone(c.NodeTypes),
	}
	n.Merge(o)
	if err := n.checkRefs(); err != nil {
		return nil, err
	}
	return n, nil
}
