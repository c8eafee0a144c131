// Command fleettwin is a digital twin and planner for LLM inference hardware.
//
// Usage:
//
//	fleettwin <command> [flags]
//
// Commands:
//
//	serve     the dashboard on 127.0.0.1:8080
//	simulate  discrete-event simulation of a fleet scenario
//	plan      the cheapest fleet that meets the SLOs (shards, merge)
//	report    a plan's or a simulation's result as one HTML page
//	tco       cost of two scenarios side by side
//	predict   step-model prediction for one or more co-located models
//	profile   fit, check, list or write performance profiles
//	catalog   list the models, weight formats and hardware in the catalog
//	calibrate measure real servers, fit a profile, check the twin against them
//	validate  reproduce published measurements in the twin and score them
//	randmodel write a Qwen3-shaped GGUF model with random weights
//
// Run `fleettwin <command> --help` for the flags of each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "the dashboard: live runs, what-if, comparison, calibration, catalog", runServe},
		{"simulate", "simulate a scenario: latency percentiles, SLOs, utilization per device", runSimulate},
		{"trace", "summarize a trace file (azure, burstgpt, mooncake, sharegpt or fleettwin's own) as a scenario replays it", runTrace},
		{"plan", "search fleet configurations for the cheapest that meets the SLOs; merge sharded searches", runPlan},
		{"report", "render a plan or simulation result as a self-contained HTML page", runReport},
		{"tco", "compare two scenarios' cost: hardware spend, $/h, $ per million tokens, latency", runTCO},
		{"predict", "predict latency, throughput and memory of models on one device", runPredict},
		{"profile", "fit, check, list or write performance profiles", runProfile},
		{"catalog", "list models, weight formats, KV types and hardware", runCatalog},
		{"calibrate", "measure real servers, fit a profile, check the twin against them", runCalibrate},
		{"validate", "reproduce published measurements in the twin: error per row, median and max", runValidate},
		{"randmodel", "write a Qwen3-shaped GGUF model with random weights", runRandmodel},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the process exit code:
// 0 on success, 2 for usage errors, 1 for everything else.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.As(err, new(usageError)):
				fmt.Fprintf(stderr, "fleettwin %s: %v\n", c.name, err)
				return 2
			default:
				fmt.Fprintf(stderr, "fleettwin %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "fleettwin: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "fleettwin: a digital twin and planner for LLM inference hardware")
	fmt.Fprintln(w, "\nUsage: fleettwin <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'fleettwin <command> --help' for a command's flags.")
}

// usageError marks errors in how a command was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its usage with a one-line description.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: fleettwin %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments (the flag package alone stops at the first
// positional), and returns the positionals in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*s = append(*s, part)
		}
	}
	return nil
}
