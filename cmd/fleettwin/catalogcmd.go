package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

func runCatalog(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("catalog", "catalog [--catalog extra.toml]", stderr)
	var catalogs stringList
	fs.Var(&catalogs, "catalog", "extra catalog TOML whose entries override the built-in ones (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e, err := loadEnv(catalogs, nil)
	if err != nil {
		return err
	}
	c := e.cat
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tPARAMS\tACTIVE\tLAYERS\tHIDDEN\tHEADS/KV\tEXPERTS\tMAX CTX")
	for _, n := range sorted(c.Models) {
		m := c.Models[n]
		experts := "-"
		if m.MoE() {
			experts = fmt.Sprintf("%d/%d", m.ExpertsPerToken, m.Experts)
		}
		fmt.Fprintf(tw, "%s\t%.2fB\t%.2fB\t%d\t%d\t%d/%d\t%s\t%d\n", n, float64(m.Params())/1e9, float64(m.ActiveParams())/1e9,
			m.Layers, m.HiddenSize, m.AttentionHeads, m.KVHeads, experts, m.MaxPositionEmbeddings)
	}
	fmt.Fprintln(tw, "\nHARDWARE\tMEMORY GiB\tGB/s\tBF16 TFLOPS\tFP8\tFP4\tPOWER W\tPRICE $\tCLOUD $/h")
	for _, n := range sorted(c.Hardware) {
		h := c.Hardware[n]
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\n", n, h.UsableMemoryGiB, h.MemoryBandwidthGBs,
			h.TFLOPSBF16, h.TFLOPSFP8, h.TFLOPSFP4, h.PowerLimitW, h.PriceUSD, h.CloudUSDPerHour)
	}
	fmt.Fprintln(tw, "\nNODE TYPE\tDEVICES\tMACHINES\tINTERCONNECT\tGB/s\tLATENCY µs\tHOST W\tPRICE $\tCLOUD $/h")
	for _, n := range sorted(c.NodeTypes) {
		t := c.NodeTypes[n]
		l := c.Interconnects[t.Interconnect]
		fmt.Fprintf(tw, "%s\t%d × %s\t%d\t%s\t%.0f\t%.2g\t%.0f\t%.0f\t%.2f\n", n, t.Devices, t.Hardware, max(t.Machines, 1), t.Interconnect,
			l.BandwidthGBs, l.LatencyUS, t.HostPowerW, t.PriceUSD, t.CloudUSDPerHour)
	}
	fmt.Fprintln(tw, "\nWEIGHT FORMAT\tBITS/WEIGHT\tCOMPUTE")
	for _, n := range sorted(c.Formats) {
		fmt.Fprintf(tw, "%s\t%.2f\t%s\n", n, c.Formats[n].BitsPerWeight, c.Formats[n].Compute)
	}
	fmt.Fprintln(tw, "\nKV-CACHE TYPE\tBITS\tCOMPUTE")
	for _, n := range sorted(c.KVTypes) {
		fmt.Fprintf(tw, "%s\t%.2f\t%s\n", n, c.KVTypes[n].Bits, c.KVTypes[n].Compute)
	}
	return tw.Flush()
}

func sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
