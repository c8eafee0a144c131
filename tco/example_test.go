package tco_test

import (
	"fmt"

	"github.com/fleettwin/fleettwin/tco"
)

// A $4,699 box over three years, paid cash or financed at 8%.
func ExampleAnnualPayment() {
	cash := tco.AnnualPayment(4699, 0, 3)
	financed := tco.AnnualPayment(4699, 0.08, 3)
	fmt.Printf("$%.0f a year ($%.3f/h) cash, $%.0f a year financed\n", cash, cash/tco.HoursPerYear, financed)
	// Output: $1566 a year ($0.179/h) cash, $1823 a year financed
}
