package catalog

import (
	"fmt"
	"slices"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// Interconnect is the link between the devices of a node, as the
// collectives of a parallel instance see it: what one device can send per
// second in one direction, and the latency of one hop. The bandwidth is
// the datasheet's (NVLink's "900 GB/s bidirectional" is 450 GB/s each
// way), so that a collective's time follows NCCL's bus-bandwidth
// arithmetic; what engines reach of it is the profile's
// link_bandwidth_eff (package perf).
type Interconnect struct {
	Name        string `toml:"-"`
	DisplayName string `toml:"display_name"`
	// BandwidthGBs is per device and per direction, in GB/s (10⁹ bytes).
	BandwidthGBs float64 `toml:"bandwidth_gbs"`
	// LatencyUS is one hop's latency in microseconds: a ring all-reduce
	// of n devices pays it 2(n-1) times.
	LatencyUS float64 `toml:"latency_us"`
}

// BandwidthBytesPerSecond is the link's per-direction bandwidth.
func (l Interconnect) BandwidthBytesPerSecond() float64 { return l.BandwidthGBs * 1e9 }

// LatencySeconds is one hop's latency.
func (l Interconnect) LatencySeconds() float64 { return l.LatencyUS * 1e-6 }

// NodeType is a machine of several identical devices and the link between
// them (an HGX board of eight H100s on NVSwitch, two DGX Sparks joined by
// their ConnectX-7 ports): what a node group buys, powers and rents as one.
// Its power, heat and clocks stay per device (its Hardware's); the rest of
// the machine is HostPowerW, and PriceUSD and CloudUSDPerHour are the whole
// node's.
type NodeType struct {
	Name        string `toml:"-"`
	DisplayName string `toml:"display_name"`
	Hardware    string `toml:"hardware"` // a [hardware] entry
	Devices     int    `toml:"devices"`
	// Machines is how many boxes the node spans (two linked Sparks are
	// one node of 2 devices over 2 machines); 0 means 1.
	Machines     int    `toml:"machines,omitempty"`
	Interconnect string `toml:"interconnect"` // an [interconnects] entry
	// HostPowerW is the node's draw beyond its devices (CPUs, switches,
	// NICs, fans, supply loss), constant; it replaces the device's
	// host_power_w.
	HostPowerW      float64 `toml:"host_power_w"`
	PriceUSD        float64 `toml:"price_usd"`
	CloudUSDPerHour float64 `toml:"cloud_usd_per_hour"`
}

// NodeSpec is what a node group's hardware names, resolved: a node type, or
// a plain device (a node of one device, with the device's host power and
// prices, the twin's behaviour before node types).
type NodeSpec struct {
	Name     string // the name looked up: a node type's or a device's
	Hardware Hardware
	Devices  int
	Machines int
	// Link joins the devices; the zero value for a node of one device.
	Link            Interconnect
	HostPowerW      float64 // the node's, beyond its devices
	PriceUSD        float64 // the node's
	CloudUSDPerHour float64 // the node's
	// Type is true when Name is a node type rather than a device.
	Type bool
}

// NodeSpec returns the node type of that name, or a one-device node of the
// hardware of that name, or an error listing both kinds of name.
func (c *Catalog) NodeSpec(name string) (NodeSpec, error) {
	if nt, err := lookup(c.NodeTypes, "node type", name); err == nil {
		hw, err := c.HardwareNamed(nt.Hardware)
		if err != nil {
			return NodeSpec{}, fmt.Errorf("node type %s: %w", nt.Name, err)
		}
		link, err := lookup(c.Interconnects, "interconnect", nt.Interconnect)
		if err != nil && nt.Devices > 1 {
			return NodeSpec{}, fmt.Errorf("node type %s: %w", nt.Name, err)
		}
		return NodeSpec{Name: nt.Name, Hardware: hw, Devices: nt.Devices, Machines: max(nt.Machines, 1), Link: link,
			HostPowerW: nt.HostPowerW, PriceUSD: nt.PriceUSD, CloudUSDPerHour: nt.CloudUSDPerHour, Type: true}, nil
	}
	hw, err := lookup(c.Hardware, "hardware", name)
	if err != nil {
		valid := append(sortedKeys(c.Hardware), sortedKeys(c.NodeTypes)...)
		slices.Sort(valid)
		return NodeSpec{}, &UnknownNameError{Kind: "hardware", Name: name, Valid: valid}
	}
	return NodeSpec{Name: hw.Name, Hardware: hw, Devices: 1, Machines: 1, HostPowerW: hw.HostPowerW,
		PriceUSD: hw.PriceUSD, CloudUSDPerHour: hw.CloudUSDPerHour}, nil
}

// NodeTypesOf lists the node types of a device, fewest devices first (then
// by name): what a measurement of that device on tp devices can have run on.
func (c *Catalog) NodeTypesOf(hardware string) []NodeType {
	var out []NodeType
	for _, n := range sortedKeys(c.NodeTypes) {
		if nt := c.NodeTypes[n]; nt.Hardware == hardware {
			out = append(out, nt)
		}
	}
	slices.SortStableFunc(out, func(a, b NodeType) int { return a.Devices - b.Devices })
	return out
}

// maxDevices bounds a node type's devices: the largest NVLink domain sold
// (GB200 NVL72) is 72, and a bound keeps a node's per-device arrays small.
const maxDevices = 72

func (v *validator) interconnect(l Interconnect) {
	k := func(n string) []string { return []string{"interconnects", l.Name, n} }
	v.positive(l.BandwidthGBs, k("bandwidth_gbs")...)
	v.positive(l.LatencyUS, k("latency_us")...)
}

// nodeType checks one node type's own fields; its names are checked
// against the merged catalog by checkRefs.
func (v *validator) nodeType(n NodeType) {
	k := func(f string) []string { return []string{"node_types", n.Name, f} }
	if v.required(k("hardware")...) && n.Hardware == "" {
		v.Add(k("hardware"), "must name a [hardware] entry")
	}
	if v.required(k("devices")...) && (n.Devices < 1 || n.Devices > maxDevices) {
		v.AddKind(tomlcheck.OutOfRange, k("devices"), "must be in [1, %d], got %d", maxDevices, n.Devices)
	}
	if n.Machines < 0 || n.Machines > n.Devices {
		v.AddKind(tomlcheck.OutOfRange, k("machines"), "must be in [1, devices (%d)], got %d", n.Devices, n.Machines)
	}
	if n.Devices > 1 {
		if v.required(k("interconnect")...) && n.Interconnect == "" {
			v.Add(k("interconnect"), "must name an [interconnects] entry")
		}
	}
	v.nonNegative(n.HostPowerW, k("host_power_w")...)
	v.positive(n.PriceUSD, k("price_usd")...)
	v.nonNegative(n.CloudUSDPerHour, k("cloud_usd_per_hour")...)
}

// checkRefs checks what a catalog's node types name once every file is
// merged in (a file may add a node type of a device another defines): the
// hardware and the interconnect must exist, and no name may be both a
// node type and a device, since a node group's hardware could mean either.
func (c *Catalog) checkRefs() error {
	errs := tomlcheck.NewErrors("catalog", nil)
	for _, n := range sortedKeys(c.NodeTypes) {
		nt := c.NodeTypes[n]
		k := func(f string) []string { return []string{"node_types", n, f} }
		if _, ok := c.Hardware[nt.Hardware]; !ok {
			errs.AddKind(tomlcheck.NotFound, k("hardware"), "no [hardware.%s]; valid: %v", nt.Hardware, sortedKeys(c.Hardware))
		}
		if _, ok := c.Interconnects[nt.Interconnect]; !ok && nt.Interconnect != "" {
			errs.AddKind(tomlcheck.NotFound, k("interconnect"), "no [interconnects.%s]; valid: %v", nt.Interconnect, sortedKeys(c.Interconnects))
		}
		if _, ok := c.Hardware[n]; ok {
			errs.Add([]string{"node_types", n}, "is also a [hardware] name: a node group's hardware could mean either")
		}
	}
	c.checkFormatRefs(errs)
	return errs.Err()
}
