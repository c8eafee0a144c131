package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

// nodeDevices is the node table's DEVICES cell: how many devices the node
// has, with its node type where it is one ("8 (hgx-h100-8)").
func nodeDevices(d sim.DeviceResult) string {
	if d.Devices <= 1 {
		return "1"
	}
	if d.NodeType != "" {
		return fmt.Sprintf("%d (%s)", d.Devices, d.NodeType)
	}
	return fmt.Sprint(d.Devices)
}

// nodeSharing is the node table's SHARING cell: how the node's instances
// share its compute, from the scenario (the result does not record it).
func nodeSharing(sc *scenario.Scenario, node string) string {
	for _, n := range sc.Nodes {
		if n.Name == node && n.Sharing != "" {
			return string(n.Sharing)
		}
	}
	return "–"
}

// writeServing prints what a model's serving adds where it has it: the
// share of prompt tokens the prefix cache served, and a disaggregated
// model's KV transfers from its prefill to its decode instances.
func writeServing(w io.Writer, r *sim.Result) {
	var hits []string
	for _, m := range r.Models {
		if m.PrefixCacheHitRate != nil {
			hits = append(hits, fmt.Sprintf("%s %s", m.Model, pct(*m.PrefixCacheHitRate)))
		}
	}
	if len(hits) > 0 {
		fmt.Fprintf(w, "\nPrefix cache hit rate (share of prompt tokens served from the cache): %s\n", strings.Join(hits, ", "))
	}
	var tw *tabwriter.Writer
	for _, m := range r.Models {
		if m.KVTransfers == 0 && m.KVTransferS == nil {
			continue
		}
		if tw == nil {
			fmt.Fprintln(w, "\nKV transfers, prefill to decode (after warm-up; time from the prefill's end to the KV's arrival):")
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL\tTRANSFERS\tMEAN SIZE\tTRANSFER p50\tTRANSFER p95")
		}
		p50, p95 := "–", "–"
		if l := m.KVTransferS; l != nil {
			p50, p95 = seconds(l.P50), seconds(l.P95)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", m.Model, m.KVTransfers, bytesSize(m.KVTransferBytes), p50, p95)
	}
	if tw != nil {
		tw.Flush()
	}
}

// bytesSize says a byte count in decimal units: "512 B", "31.5 MB".
func bytesSize(b float64) string {
	for _, u := range []string{"B", "kB", "MB", "GB"} {
		if b < 1000 || u == "GB" {
			if u == "B" {
				return fmt.Sprintf("%.0f B", b)
			}
			return fmt.Sprintf("%.3g %s", b, u)
		}
		b /= 1000
	}
	return ""
}
