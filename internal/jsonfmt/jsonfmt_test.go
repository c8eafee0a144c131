package jsonfmt

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

type inner struct {
	X float64 `json:"x"`
}

type sample struct {
	Name    string             `json:"name"`
	Value   float64            `json:"value"`
	Missing float64            `json:"missing"`
	Skip    int                `json:"-"`
	Empty   string             `json:"empty,omitempty"`
	List    []inner            `json:"list"`
	Map     map[string]float64 `json:"map"`
	Ptr     *inner             `json:"ptr"`
	private int
}

func TestMarshal(t *testing.T) {
	v := sample{Name: "a\"b", Value: 1.0 / 3, Missing: math.NaN(), Skip: 7, List: []inner{{math.Inf(1)}, {2}},
		Map: map[string]float64{"z": 1, "a": 123456789}, private: 1}
	got, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "name": "a\"b",
  "value": 0.333333,
  "missing": null,
  "list": [
    {
      "x": null
    },
    {
      "x": 2
    }
  ],
  "map": {
    "a": 123457000,
    "z": 1
  },
  "ptr": null
}
`
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	var back map[string]any
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("output is not valid JSON: %v", err)
	}
}

func TestRound(t *testing.T) {
	for _, tt := range []struct{ in, want float64 }{{0.1234567, 0.123457}, {98765432, 98765400}, {0, 0}, {-1.0000004, -1}} {
		if got := Round(tt.in); got != tt.want {
			t.Errorf("Round(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestMarshalInlinesEmbeddedStructs(t *testing.T) {
	type base struct {
		A int `json:"a"`
	}
	type Tagged struct {
		B int `json:"b"`
	}
	type outer struct {
		*base
		Tagged `json:"t"`
		C      int `json:"c"`
	}
	for _, tc := range []struct {
		v    outer
		want string
	}{
		{outer{base: &base{1}, Tagged: Tagged{2}, C: 3}, `{"a":1,"t":{"b":2},"c":3}`},
		{outer{Tagged: Tagged{2}, C: 3}, `{"t":{"b":2},"c":3}`},
	} {
		got, err := Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		// Compare with encoding/json, which defines the expected layout.
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		json.Unmarshal([]byte(tc.want), &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}
