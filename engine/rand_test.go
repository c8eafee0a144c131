package engine

import (
	"math/rand/v2"
	"testing"
)

func draws(r *rand.Rand, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = r.Uint64()
	}
	return out
}

// TestStreamGolden pins the seed derivation. If this fails, every
// simulation's random numbers have changed: results recorded with earlier
// versions will no longer reproduce.
func TestStreamGolden(t *testing.T) {
	tests := []struct {
		seed uint64
		name string
		want [3]uint64
	}{
		{0, "", [3]uint64{0x951d61bcdf313906, 0xfda788992787ebb2, 0x445b0333f69517e3}},
		{1, "arrivals", [3]uint64{0x6023536617d04327, 0x35f293480822b74f, 0xad5aca09dd747c20}},
		{1, "service", [3]uint64{0xd8da054c0f5f5864, 0xbeebe1e6da22212d, 0x7fe692f5cecbd42c}},
		{42, "arrivals", [3]uint64{0xf27ee20de2caec70, 0xf225b3266cbd490a, 0x51dbead86530b485}},
	}
	for _, tt := range tests {
		got := draws(NewStreams(tt.seed).Stream(tt.name), 3)
		if [3]uint64(got) != tt.want {
			t.Errorf("Stream(seed %d, %q) = %#x, want %#x", tt.seed, tt.name, got, tt.want)
		}
	}
}

// TestStreamIndependence checks that a stream's numbers depend only on the
// seed and its name: not on which other streams exist, in what order they
// were created, or how much they were used.
func TestStreamIndependence(t *testing.T) {
	const n = 100
	alone := draws(NewStreams(7).Stream("service"), n)

	st := NewStreams(7)
	extra := st.Stream("new-component")
	arr := st.Stream("arrivals")
	svc := st.Stream("service")
	var got []uint64
	for range n {
		extra.Uint64()
		arr.Uint64()
		arr.Uint64()
		got = append(got, svc.Uint64())
	}
	for i := range n {
		if got[i] != alone[i] {
			t.Fatalf("draw %d of \"service\" with other streams active = %#x, alone = %#x", i, got[i], alone[i])
		}
	}
	if again := draws(st.Stream("service"), n); again[0] != alone[0] {
		t.Errorf("a second Stream(\"service\") starts at %#x, want %#x (its start)", again[0], alone[0])
	}
}

// TestStreamsDistinct checks that nearby seeds and similar names give
// unrelated streams, which a weak hash of (seed, name) would not.
func TestStreamsDistinct(t *testing.T) {
	seen := map[uint64]string{}
	for seed := range uint64(4) {
		for _, name := range []string{"", "a", "b", "ab", "ba", "gpu0", "gpu1", "gpu10"} {
			v := NewStreams(seed).Stream(name).Uint64()
			key := name + "/" + string(rune('0'+seed))
			if prev, ok := seen[v]; ok {
				t.Errorf("streams %s and %s start with the same value %#x", prev, key, v)
			}
			seen[v] = key
		}
	}
}
