package jobs

import "encoding/json"

// MessageLimit is the largest message a run's stream sends on connect.
// A large fleet's complete state outgrows it (the shipped 100-node run's
// is 0.93 MB compact), so WireParts sends it as a head and parts.
const MessageLimit = 64 << 10

// WireParts is the complete state as the stream sends it on connect: one
// compact message when it fits in limit bytes; otherwise a head (the
// state with its models' and devices' series left out, Parts naming how
// many messages follow) and parts, each carrying the complete series of
// consecutive models (from ModelsFrom) and devices (from DevicesFrom),
// packed under limit (a part holds at least one: a model's complete
// series, seven of maxPoints points, can reach 75 KB). A receiver that fills the head with every part
// (Fill) holds the complete state: that is what the page does.
func (st State) WireParts(limit int) [][]byte {
	whole := wireJSON(st)
	if len(whole) <= limit {
		return [][]byte{whole}
	}
	head := st
	head.Models = make([]ModelSeries, len(st.Models))
	for i, m := range st.Models {
		head.Models[i] = ModelSeries{Model: m.Model, Completed: m.Completed}
	}
	head.Devices = make([]DeviceSeries, len(st.Devices))
	for i, d := range st.Devices {
		head.Devices[i] = DeviceSeries{Node: d.Node, Group: d.Group, Throttle: d.Throttle}
	}
	// A part is small beside its series (seq, its number, the ranges):
	// series are packed into it while they fit.
	const overhead = 160
	var parts []Part
	cur, size := Part{Seq: st.Seq, Part: 1}, overhead
	flush := func() {
		if len(cur.Models)+len(cur.Devices) > 0 {
			parts = append(parts, cur)
		}
		cur = Part{Seq: st.Seq, Part: len(parts) + 1}
		size = overhead
	}
	for i, m := range st.Models {
		n := len(wireJSON(m)) + 1
		if size+n > limit {
			flush()
		}
		if len(cur.Models) == 0 {
			cur.ModelsFrom = i
		}
		cur.Models = append(cur.Models, m)
		size += n
	}
	for i, d := range st.Devices {
		n := len(wireJSON(d)) + 1
		if size+n > limit {
			flush()
		}
		if len(cur.Devices) == 0 {
			cur.DevicesFrom = i
		}
		cur.Devices = append(cur.Devices, d)
		size += n
	}
	flush()
	head.Parts = len(parts)
	out := [][]byte{wireJSON(head)}
	for _, p := range parts {
		out = append(out, wireJSON(p))
	}
	return out
}

// Part is one of the messages after a head (State.Parts > 0): the
// complete series of some of the state's models and devices.
type Part struct {
	Seq         int64          `json:"seq"`
	Part        int            `json:"part"`
	ModelsFrom  int            `json:"models_from"`
	Models      []ModelSeries  `json:"models"`
	DevicesFrom int            `json:"devices_from"`
	Devices     []DeviceSeries `json:"devices"`
}

// IsPart reports whether a message of the stream is a part (it has a
// "part" key), not a state.
func IsPart(msg []byte) bool {
	var probe struct {
		Part int `json:"part"`
	}
	return json.Unmarshal(msg, &probe) == nil && probe.Part > 0
}

// Fill returns the head with the part's series in place; once every one
// of head.Parts parts is in, it is the complete state (with Parts 0).
func (head State) Fill(p Part) State {
	next := head
	next.Models, next.Devices = append([]ModelSeries(nil), head.Models...), append([]DeviceSeries(nil), head.Devices...)
	for i, m := range p.Models {
		if j := p.ModelsFrom + i; j < len(next.Models) {
			next.Models[j] = m
		}
	}
	for i, d := range p.Devices {
		if j := p.DevicesFrom + i; j < len(next.Devices) {
			next.Devices[j] = d
		}
	}
	if p.Part == head.Parts {
		next.Parts = 0
	}
	return next
}
