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

// gpt-oss-20b is released with only its experts in MXFP4: an instance in
// that format keeps the rest in bf16, or in Q8_0 as the GGUF llama.cpp
// loads stores it.
func ExampleCatalog_WeightFormats() {
	c := catalog.Default()
	m, _ := c.Model("gpt-oss-20b")
	for _, engine := range []string{"vllm", "llama.cpp"} {
		dense, experts, err := c.WeightFormats(m, "mxfp4", engine)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: experts %s, the rest %s\n", engine, experts.Name, dense.Name)
	}
	// Output:
	// vllm: experts mxfp4, the rest bf16
	// llama.cpp: experts mxfp4, the rest q8_0
}
