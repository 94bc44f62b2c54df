// Command cpubench measures gradmesh's CPU speed side by side with its
// references and prints tables; it asserts nothing. Run it from the
// repository root:
//
//	go run ./internal/cpubench sgemm  [-shapes 256,512,64x256x784:TN] [-threads 1,2] [-seconds 1]
//	go run ./internal/cpubench models [-batch 64,256] [-threads 1,2] [-seconds 2] SPEC[@SHAPE[/CLASSES]]...
//
// sgemm compares the rate of gradmesh's OpenBLAS binding (nn/openblas) with
// OpenBLAS's own, measured by scripts/sgemm_rate.c calling cblas_sgemm from
// C (compiled with gcc against the same library), and with gonum's.
//
// models times one training step (Model.LossGrad: forward, loss, backward)
// of each model spec on OpenBLAS and on gonum, and the same step in
// PyTorch by a script per model family (see torchScripts), and prints the
// ratios.
//
// Every timing, Go, C or Python, warms up, then runs whole calls in chunks
// of a tenth of -seconds and keeps the best chunk: on a machine shared with
// other work the best chunk is the one least disturbed. Rows are measured
// one after the other, each side right after the other, so the ratios of a
// row share the machine's load; the header prints that load.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cpubench:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a subcommand: sgemm or models")
	}
	switch args[0] {
	case "sgemm":
		return runSgemm(args[1:], out)
	case "models":
		return runModels(args[1:], out)
	}
	return fmt.Errorf("unknown subcommand %q: want sgemm or models", args[0])
}

// timeCalls returns fn's seconds per call: it warms fn up for a tenth of
// seconds, then runs it in chunks of a tenth of seconds each until seconds
// have passed and keeps the best chunk. A chunk runs at least one call.
func timeCalls(fn func(), seconds float64) float64 {
	chunk := time.Duration(seconds / 10 * float64(time.Second))
	for start := time.Now(); time.Since(start) < chunk; {
		fn()
	}
	best := 0.0
	for end := time.Now().Add(time.Duration(seconds * float64(time.Second))); time.Now().Before(end); {
		calls, start := 0, time.Now()
		for calls == 0 || time.Since(start) < chunk {
			fn()
			calls++
		}
		per := time.Since(start).Seconds() / float64(calls)
		if best == 0 || per < best {
			best = per
		}
	}
	return best
}

// intList parses "1,2,4" into positive integers.
func intList(flagName, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("-%s %q: %q is not a positive integer", flagName, s, f)
		}
		out = append(out, v)
	}
	return out, nil
}

// machine describes the CPU and its load, for a table's header.
func machine() string {
	model := runtime.GOARCH
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d logical CPUs, load average %s", model, runtime.NumCPU(), loadAverage())
}

// loadAverage is the 1, 5 and 15-minute load averages, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// newFlags is a flag set that reports errors instead of exiting.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}
