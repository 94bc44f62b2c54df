// Command gradmesh is the decentralized training mesh: `gradmesh join` runs
// a live peer, `gradmesh sim` the algorithm-level simulator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `gradmesh — decentralized training over a peer-to-peer mesh

Usage:
  gradmesh sim [flags]     simulate peers training together (gradmesh sim -h lists the flags)
  gradmesh join [flags]    run a live peer: find the mesh, train, mix with neighbors
  gradmesh keygen FILE     write a new peer identity and print its peer ID
  gradmesh topo [flags]    embed an RTT matrix in network coordinates and score them (gradmesh topo -h)
  gradmesh gpus [--json]   list NVIDIA GPUs, their load and processes
  gradmesh help            show this text

With no flags, gradmesh sim trains 16 simulated peers with D-PSGD on the
embedded digits data set and prints the final accuracy.
`

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalContext ends on SIGINT or SIGTERM, so peers stop cleanly.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// errUsage marks errors in how the command was called (exit status 2).
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "sim":
		err = runSim(ctx, args[1:], stdout, stderr)
	case "join":
		err = runJoin(ctx, args[1:], stdout, stderr)
	case "keygen":
		err = runKeygen(ctx, args[1:], stdout, stderr)
	case "topo":
		err = runTopo(ctx, args[1:], stdout, stderr)
	case "gpus":
		err = runGPUs(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gradmesh: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "gradmesh %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "gradmesh %s: %v\n", args[0], err)
		return 1
	}
}

// usageError wraps a message about the command line so run exits with 2.
func usageError(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

// parseFlags parses a command's flags: -h is flag.ErrHelp (exit 0), a bad
// flag or a stray argument a usage error (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	return nil
}
