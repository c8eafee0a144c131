package perf

import "github.com/fleettwin/fleettwin/internal/tomlcheck"

// Serving is what a real server adds around the GPU steps of the step-time
// model: the [serving] table of a profile.
type Serving struct{}

// check reports the serving terms' problems into errs.
func (s *Serving) check(errs *tomlcheck.Errors) {}
