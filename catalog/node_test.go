package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// TestBuiltInNodeTypes checks each shipped node type resolves to its
// device, count and link, with the figures models.toml sources.
func TestBuiltInNodeTypes(t *testing.T) {
	c := Default()
	for _, tt := range []struct {
		name, hardware string
		devices        int
		machines       int
		linkGBs        float64
		latencyUS      float64
	}{
		{"hgx-h100-8", "h100-sxm", 8, 1, 450, 0.6},
		{"hgx-h200-8", "h200", 8, 1, 450, 0.6},
		{"dgx-b200-8", "b200", 8, 1, 900, 0.6},
		{"dgx-spark-pair", "dgx-spark", 2, 2, 25, 2.7},
		{"l40s-pcie-4", "l40s", 4, 1, 32, 1.0},
		{"rtx-pro-6000-pcie-8", "rtx-pro-6000", 8, 1, 64, 1.0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, err := c.NodeSpec(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if !n.Type || n.Hardware.Name != tt.hardware || n.Devices != tt.devices || n.Machines != tt.machines {
				t.Errorf("got %+v", n)
			}
			if n.Link.BandwidthGBs != tt.linkGBs || n.Link.LatencyUS != tt.latencyUS {
				t.Errorf("link %+v, want %v GB/s, %v us", n.Link, tt.linkGBs, tt.latencyUS)
			}
			if !(n.PriceUSD > 0) || !(n.HostPowerW > 0) {
				t.Errorf("price %v, host power %v: both must be set", n.PriceUSD, n.HostPowerW)
			}
		})
	}
}

// TestNodeSpecOfADevice: a plain device is a node of one device with the
// device's own host power and prices, as before node types.
func TestNodeSpecOfADevice(t *testing.T) {
	c := Default()
	hw, _ := c.HardwareNamed("h100-sxm")
	n, err := c.NodeSpec("H100-SXM")
	if err != nil {
		t.Fatal(err)
	}
	if n.Type || n.Devices != 1 || n.Machines != 1 || n.Hardware.Name != "h100-sxm" || n.Link != (Interconnect{}) ||
		n.HostPowerW != hw.HostPowerW || n.PriceUSD != hw.PriceUSD || n.CloudUSDPerHour != hw.CloudUSDPerHour {
		t.Errorf("got %+v", n)
	}
	_, err = c.NodeSpec("hgx-h900-8")
	var u *UnknownNameError
	if !errors.As(err, &u) || u.Kind != "hardware" || !strings.Contains(err.Error(), "hgx-h100-8") || !strings.Contains(err.Error(), "l40s") {
		t.Errorf("unknown name: %v", err)
	}
	if got := c.NodeTypesOf("h100-sxm"); len(got) != 1 || got[0].Name != "hgx-h100-8" {
		t.Errorf("NodeTypesOf(h100-sxm) = %v", got)
	}
}

const nodeBox = `[interconnects.wire]
bandwidth_gbs = 10
latency_us = 2

[node_types.pair]
hardware = "l40s"
devices = 2
interconnect = "wire"
host_power_w = 100
price_usd = 20000
cloud_usd_per_hour = 2
`

// TestNodeTypeErrors: every rejection names its key and kind.
func TestNodeTypeErrors(t *testing.T) {
	for _, tt := range []struct {
		name, old, new string
		kind           tomlcheck.Kind
		want           string
	}{
		{"zero devices", "devices = 2", "devices = 0", tomlcheck.OutOfRange, "bad.toml:7: node_types.pair.devices: must be in [1, 72], got 0"},
		{"too many devices", "devices = 2", "devices = 100", tomlcheck.OutOfRange, "node_types.pair.devices: must be in [1, 72], got 100"},
		{"no devices", "devices = 2\n", "", tomlcheck.Missing, "node_types.pair.devices: required field is missing"},
		{"no interconnect", "interconnect = \"wire\"\n", "", tomlcheck.Missing, "node_types.pair.interconnect: required field is missing"},
		{"no price", "price_usd = 20000\n", "", tomlcheck.Missing, "node_types.pair.price_usd: required field is missing"},
		{"machines over devices", "devices = 2", "devices = 2\nmachines = 3", tomlcheck.OutOfRange, "node_types.pair.machines: must be in [1, devices (2)], got 3"},
		{"negative host power", "host_power_w = 100", "host_power_w = -1", tomlcheck.OutOfRange, "node_types.pair.host_power_w: must not be negative"},
		{"zero bandwidth", "bandwidth_gbs = 10", "bandwidth_gbs = 0", tomlcheck.OutOfRange, "bad.toml:2: interconnects.wire.bandwidth_gbs: must be positive"},
		{"no latency", "latency_us = 2\n", "", tomlcheck.Missing, "interconnects.wire.latency_us: required field is missing"},
		{"unknown key", "devices = 2", "devices = 2\ngpus = 2", tomlcheck.Unknown, "node_types.pair.gpus: unknown field"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(nodeBox, tt.old) {
				t.Fatalf("nodeBox has no %q", tt.old)
			}
			_, err := Parse("bad.toml", []byte(strings.Replace(nodeBox, tt.old, tt.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !tomlcheck.Has(err, tt.kind) {
				t.Errorf("error %v, want %q of kind %v", err, tt.want, tt.kind)
			}
		})
	}
	if _, err := Parse("good.toml", []byte(nodeBox)); err != nil {
		t.Fatalf("good node type: %v", err)
	}
}

// TestNodeTypeReferences: a node type's hardware and interconnect are
// looked up once every file is merged (Load), and a name may not be both
// a device and a node type.
func TestNodeTypeReferences(t *testing.T) {
	dir := t.TempDir()
	write := func(src string) string {
		p := filepath.Join(dir, "extra.toml")
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write(nodeBox))
	if err != nil {
		t.Fatalf("node type of a built-in device: %v", err)
	}
	if n, err := c.NodeSpec("pair"); err != nil || n.Devices != 2 || n.Link.Name != "wire" {
		t.Errorf("pair: %+v, %v", n, err)
	}
	for _, tt := range []struct{ old, new, want string }{
		{`hardware = "l40s"`, `hardware = "l50s"`, "node_types.pair.hardware: no [hardware.l50s]"},
		{`interconnect = "wire"`, `interconnect = "string"`, "node_types.pair.interconnect: no [interconnects.string]"},
		{"[node_types.pair]", "[node_types.l40s]", "node_types.l40s: is also a [hardware] name"},
	} {
		_, err := Load(write(strings.Replace(nodeBox, tt.old, tt.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.new, err, tt.want)
		}
	}
}
