package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/gradmesh/gradmesh/topology"
)

// topoResult is what gradmesh topo --json prints: the report and the
// settings that produced it.
type topoResult struct {
	LatencyMatrix string  `json:"latency_matrix"`
	Preset        string  `json:"preset"`
	Steps         int     `json:"steps"`
	Samples       int     `json:"samples"`
	NearFraction  float64 `json:"near_fraction"`
	Seed          uint64  `json:"seed"`
	topology.CoordReport
}

// vivaldiPresets are the coordinate settings --preset chooses from.
var vivaldiPresets = map[string]func() topology.VivaldiConfig{
	"gradmesh": topology.DefaultVivaldiConfig,
	"serf":     topology.SerfVivaldiConfig,
}

func runTopo(_ context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := topology.DefaultEmbedConfig()
	fs := flag.NewFlagSet("topo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("latency-matrix", "", "RTT matrix file (CSV/TSV, ms, row = sender) to embed (required)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	shortlist := fs.Int("shortlist", 8, "peers each peer probes: those with the smallest estimated RTT")
	k := fs.Int("k", 4, "neighbors each peer keeps from its probed shortlist (for the stretch)")
	preset := fs.String("preset", "gradmesh", "coordinate settings: gradmesh (tuned for finding near peers) or serf (serf's defaults)")
	fs.IntVar(&cfg.Steps, "steps", cfg.Steps, "rounds in which every peer takes its samples")
	fs.IntVar(&cfg.Samples, "samples", cfg.Samples, "RTT samples each peer takes per step")
	fs.Float64Var(&cfg.NearFraction, "near-fraction", cfg.NearFraction, "share of samples to the lowest-RTT peers a peer has measured (the rest go to random peers)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed for whom peers probe and in what order")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gradmesh topo --latency-matrix FILE [flags]\n\n"+
			"Runs Vivaldi network coordinates over an RTT matrix the way live peers would and\n"+
			"reports how well they predict RTTs and find each peer's nearest peers.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *path == "":
		return usageError("--latency-matrix is required: the RTT matrix file to embed")
	case *shortlist < 1:
		return usageError("--shortlist %d: want at least 1 peer to probe", *shortlist)
	case *k < 1 || *k > *shortlist:
		return usageError("--k %d: want 1 to --shortlist (%d)", *k, *shortlist)
	case cfg.Steps < 1:
		return usageError("--steps %d: want at least 1", cfg.Steps)
	case cfg.Samples < 1:
		return usageError("--samples %d: want at least 1 per step", cfg.Samples)
	case !(cfg.NearFraction >= 0 && cfg.NearFraction <= 1):
		return usageError("--near-fraction %v: want 0 to 1", cfg.NearFraction)
	}
	newVivaldi, ok := vivaldiPresets[*preset]
	if !ok {
		return usageError("--preset %q: want gradmesh or serf", *preset)
	}
	cfg.Vivaldi = newVivaldi()

	m, err := topology.ReadLatencyMatrix(*path)
	if err != nil {
		return usageError("--latency-matrix: %v", err)
	}
	coords, err := topology.EmbedMatrix(m, cfg)
	if err != nil {
		return fmt.Errorf("embedding %s: %w", *path, err)
	}
	report, err := topology.EvaluateCoords(m, coords, *shortlist, *k)
	if err != nil {
		return fmt.Errorf("evaluating the coordinates of %s: %w", *path, err)
	}
	res := topoResult{LatencyMatrix: *path, Preset: *preset, Steps: cfg.Steps, Samples: cfg.Samples,
		NearFraction: cfg.NearFraction, Seed: cfg.Seed, CoordReport: report}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(res)
	}
	printTopo(stdout, res)
	return nil
}

func printTopo(w io.Writer, r topoResult) {
	fmt.Fprintf(w, "%s: %d peers, %d pairs · %s preset · %d steps × %d samples (%.0f%% near) · seed %d\n",
		r.LatencyMatrix, r.Peers, r.Pairs, r.Preset, r.Steps, r.Samples, 100*r.NearFraction, r.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "median relative error\t%9.4f\n", r.MedianRelError)
	fmt.Fprintf(tw, "p90 relative error\t%9.4f\n", r.P90RelError)
	fmt.Fprintf(tw, "mean relative error\t%9.4f\n", r.MeanRelError)
	fmt.Fprintf(tw, "nearest found (probe %d)\t%9.4f\n", r.Shortlist, r.NearestExactFraction)
	fmt.Fprintf(tw, "stretch (keep %d of %d)\t%9.4f\n", r.K, r.Shortlist, r.Stretch)
	tw.Flush()
}
