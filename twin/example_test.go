package twin_test

import (
	"context"
	"fmt"
	"log"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/scenarios"
	"github.com/fleettwin/fleettwin/twin"
)

// Simulate one of the shipped scenarios as fast as possible: the closet
// Spark throttles, so the result says what that cost, and what it costs.
func ExampleSimulate() {
	profiles, err := perf.DefaultProfiles()
	if err != nil {
		log.Fatal(err)
	}
	data, _ := scenarios.FS.ReadFile("seed-colocated-closet.toml")
	sc, err := scenario.Parse("seed-colocated-closet.toml", data, catalog.Default(), profiles, nil)
	if err != nil {
		log.Fatal(err)
	}
	s, err := twin.Simulate(context.Background(), sc, twin.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Scenario, "partial:", s.Partial)
	for _, t := range s.Throttling {
		fmt.Println("throttling priced for", t.Model)
	}
	fmt.Println("pricing:", s.Cost.Pricing)
	// Output:
	// seed-colocated-closet partial: false
	// throttling priced for qwen3-14b
	// throttling priced for qwen3-8b
	// pricing: own
}
