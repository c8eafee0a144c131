package catalog_test

import (
	"fmt"

	"github.com/fleettwin/fleettwin/catalog"
)

func ExampleCatalog_Model() {
	c := catalog.Default()
	m, err := c.Model("qwen3-30b-a3b")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %.2fB parameters, %.2fB active per token\n", m.DisplayName, float64(m.Params())/1e9, float64(m.ActiveParams())/1e9)
	_, err = c.Model("qwen3-7b")
	fmt.Println(err != nil)
	// Output:
	// Qwen3-30B-A3B: 30.53B parameters, 3.35B active per token
	// true
}
