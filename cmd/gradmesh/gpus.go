package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gradmesh/gradmesh/gpu"
)

// openNVML opens the machine's NVML; tests replace it with a mock.
var openNVML = func() (*gpu.NVML, error) { return gpu.OpenSystem() }

// gpusReport is the --json output: the inventory plus why it lists no GPU.
type gpusReport struct {
	gpu.Inventory
	Status string `json:"status"` // "ok", "no-driver" or "no-gpu"
	Reason string `json:"reason"` // empty when status is "ok"
}

// runGPUs prints what GPUs this machine could contribute. No driver and no
// GPU are normal answers (exit 0), not failures.
func runGPUs(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gpus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object (always with a gpus array) instead of tables")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	report := gpusReport{Inventory: gpu.Inventory{GPUs: []gpu.GPU{}}, Status: "ok"}
	session, err := openNVML()
	switch {
	case errors.Is(err, gpu.ErrNoDriver):
		report.Status, report.Reason = "no-driver", err.Error()
	case err != nil:
		return err
	default:
		defer session.Close()
		report.Inventory, err = session.Inventory()
		if err != nil {
			return err
		}
		if len(report.GPUs) == 0 {
			report.Status, report.Reason = "no-gpu", "no GPU found"
		}
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	if report.Status == "no-driver" {
		_, err := fmt.Fprintln(stdout, report.Reason)
		return err
	}
	if err := gpu.WriteTable(stdout, report.Inventory); err != nil {
		return err
	}
	if report.Status == "no-gpu" {
		_, err = fmt.Fprintf(stdout, "\n%s\n", report.Reason)
	}
	return err
}
