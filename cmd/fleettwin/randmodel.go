package main

import (
	"context"
	"fmt"
	"io"

	"github.com/fleettwin/fleettwin/randmodel"
)

func runRandmodel(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("randmodel", "randmodel --model M --format F --out model.gguf [flags]", stderr)
	var catalogs stringList
	model := fs.String("model", "", "model name from the catalog (any Qwen3 shape, built-in or from --catalog)")
	format := fs.String("format", "fp16", "weight format: fp16, bf16 or q8_0")
	out := fs.String("out", "", "GGUF file to write")
	seed := fs.Uint64("seed", 1, "seed of the random weights")
	ctxLen := fs.Int("context", 0, "context length written in the file (default: the model's max positions)")
	fs.Var(&catalogs, "catalog", "extra catalog file whose entries override the built-in ones (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *model == "" || *out == "" {
		return usagef("--model and --out are required")
	}
	if *ctxLen < 0 || *ctxLen > 1<<24 {
		return usagef("--context must be 0 (the model's max positions) to %d, got %d", 1<<24, *ctxLen)
	}
	e, err := loadEnv(catalogs, nil)
	if err != nil {
		return err
	}
	m, err := e.cat.Model(*model)
	if err != nil {
		return err
	}
	typ, err := randmodel.TypeFor(*format)
	if err != nil {
		return usagef("--format: %v", err)
	}
	f, err := randmodel.Build(m, randmodel.Options{Weights: typ, Seed: *seed, ContextLength: *ctxLen})
	if err != nil {
		return err
	}
	// WriteFile reads the model back with the GGUF reader: a file that
	// does not describe the model built is an error here, not in Ollama.
	size, err := randmodel.WriteFile(*out, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s with random weights (%s, seed %d), %.1f MiB\n", *out, m.Name, typ, *seed, float64(size)/(1<<20))
	return nil
}
