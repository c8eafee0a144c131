package report

import (
	"io"
	"testing"
)

// FuzzWriteHTML feeds the report hostile result JSON: fields missing,
// indices out of range, huge and negative numbers. It must return an error
// or a page, never panic.
func FuzzWriteHTML(f *testing.F) {
	for _, s := range []string{
		`{"plan_sha256":"x"}`,
		`{"plan_sha256":"x","pareto":[99999,-1],"ranked":[]}`,
		`{"plan_sha256":"x","winner":5,"ranked":[{}]}`,
		`{"plan_sha256":"x","ranked":[{"cost_usd_per_hour":1e308}],"pareto":[0]}`,
		`{"scenario":"s"}`,
		`{"scenario":"s","result":{"models":[{}],"devices":[{}]}}`,
		`{"scenario":"s","result":{"duration_s":-1,"series":{"times_s":[1,2],"devices":[{"utilization":[1]}]}}}`,
		`[]`, `null`, `{"scenario":null,"plan_sha256":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = WriteHTML(io.Discard, data)
	})
}
