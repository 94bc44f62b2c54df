package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/nn/openblas"
	"github.com/gradmesh/gradmesh/sims"
)

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s := sims.DefaultSpec()
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&s.Peers, "peers", s.Peers, "number of simulated peers")
	addTrainingFlags(fs, &s.Recipe)
	addAggregateFlag(fs, &s.Aggregate)
	fs.StringVar(&s.Topology, "topology", s.Topology, "overlay: auto (chosen by --neighbors from --latency-matrix, else exponential)|edge (generated edge/6G network, overlay by --neighbors)|ring|torus|complete|exponential|regular:K|erdos-renyi:P|geometric:R")
	fs.StringVar(&s.Neighbors, "neighbors", s.Neighbors, "neighbor policy when the overlay is chosen from latencies: random|latency|latency+long")
	fs.IntVar(&s.Degree, "degree", s.Degree, "links each peer proposes under --neighbors (near + long)")
	fs.IntVar(&s.LongLinks, "long-links", s.LongLinks, "of those, long-range links under latency+long (mixed asynchronously)")
	fs.IntVar(&s.LongPeriod, "long-period", s.LongPeriod, "rounds between exchanges over a long link")
	fs.StringVar(&s.EdgePreset, "edge-preset", s.EdgePreset, "edge network for --topology edge: urban-6g|rural-5g (one device per peer; its own uplink/downlink rates replace --bandwidth)")
	fs.Float64Var(&s.MobilitySeconds, "mobility", s.MobilitySeconds, "with --topology edge: virtual seconds between device moves; peers re-plan neighbors after handovers (0 = static)")
	fs.Float64Var(&s.MobilitySpeedup, "mobility-speedup", s.MobilitySpeedup, "devices move this many times faster than the virtual clock (600: a virtual second is ten minutes of walking and driving)")
	fs.StringVar(&s.Algo, "algo", s.Algo, "algorithm: centralized|local|dpsgd")
	fs.StringVar(&s.Weighting, "weighting", s.Weighting, "peer step weight: samples (n_i/mean, minimises the loss over all data)|uniform (plain D-PSGD)")
	fs.Float64Var(&s.Epochs, "epochs", s.Epochs, "passes over each peer's local data (the centralized baseline processes the same total samples)")
	fs.IntVar(&s.Rounds, "rounds", s.Rounds, "rounds to run; overrides --epochs when > 0")
	fs.StringVar(&s.LatencyMatrix, "latency-matrix", s.LatencyMatrix, "RTT matrix file (CSV/TSV, ms, row = sender); one-way delay = RTT/2")
	latency := fs.Duration("latency", time.Duration(s.LatencyMS*float64(time.Millisecond)), "one-way link delay when there is no latency matrix")
	fs.Float64Var(&s.BandwidthMbps, "bandwidth", s.BandwidthMbps, "each peer's uplink in Mbit/s (0 = unlimited)")
	roundTimeout := fs.Duration("round-timeout", time.Duration(s.RoundTimeoutMS*float64(time.Millisecond)), "end rounds by deadline as live peers do, this being the longest a round waits (join's default: 5s); 0: rounds wait for every vector")
	fs.Float64Var(&s.PeerGFLOPS, "peer-gflops", s.PeerGFLOPS, "each peer's compute speed in GFLOP/s (sets virtual step time)")
	fs.Float64Var(&s.TargetAccuracy, "target-accuracy", s.TargetAccuracy, "report the virtual time when mean test accuracy first reaches this")
	fs.IntVar(&s.EvalEvery, "eval-every", s.EvalEvery, "rounds between evaluation points (0 = about 20 points)")
	fs.IntVar(&s.EvalSamples, "eval-samples", s.EvalSamples, "test samples scored at intermediate points (0 = all; the last point always uses all)")
	out := fs.String("out", "", "directory for metrics.csv, summary.json, accuracy.png and consensus.png")
	quiet := fs.Bool("quiet", false, "no progress bar")
	var device deviceFlags
	addDeviceFlags(fs, &device)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gradmesh sim [flags]\n\nSimulates peers running decentralized SGD on a virtual clock.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s.LatencyMS = float64(*latency) / float64(time.Millisecond)
	s.RoundTimeoutMS = float64(*roundTimeout) / float64(time.Millisecond)
	if err := device.check(); err != nil {
		return usageError("%v", err)
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	blasLine, err := openblas.Select()
	if err != nil {
		return err
	}
	exp, err := s.Prepare()
	if err != nil {
		return usageError("%v", err)
	}
	if _, threaded := nn.BLAS().(nn.Threaded); threaded && exp.OneThreadPerProduct() {
		blasLine += "; the simulator gives each product 1 thread and runs peers side by side"
	}
	log.Info("blas: " + blasLine)
	dev, err := chooseSimDevice(device, log)
	if err != nil {
		return err
	}
	defer dev.backend.Close()
	if dev.backend.Name() != "cpu" {
		// Each worker clones this model: one device model per worker, their
		// calls serialised by the backend.
		if exp.Model, err = dev.model(device, s.Model, exp.Test.Shape, exp.Test.Classes); err != nil {
			return err
		}
	}
	bar := newProgressBar(stderr, *quiet)
	exp.Progress = bar.update
	res, err := exp.Run(ctx)
	bar.finish()
	if err != nil {
		return err
	}
	if *out != "" {
		if err := sims.WriteOutputs(*out, s, res); err != nil {
			return err
		}
	}
	printSummary(stdout, s, res, *out, dev.describe())
	return nil
}

func printSummary(w io.Writer, s sims.Spec, res *sims.Result, out, device string) {
	what := fmt.Sprintf("%s, %d peers", s.Algo, s.Peers)
	if o := res.Overlay; o != nil {
		what = fmt.Sprintf("dpsgd on %s, %d peers", o.Policy, s.Peers)
		if s.Topology == "edge" {
			what = fmt.Sprintf("dpsgd on %s over a %s edge network, %d peers", o.Policy, s.EdgePreset, s.Peers)
		}
	}
	fmt.Fprintf(w, "%s · %s · %s · %s\n", what, s.Dataset, s.Model, s.Partition)
	fmt.Fprintf(w, "device: %s\n", device)
	fmt.Fprintf(w, "rounds %d · samples %d · %.0f bytes sent per peer · %.2f virtual s · %.2f wall s\n",
		res.Rounds, res.SamplesSeen, res.BytesSentPerPeer, res.VirtualSeconds, res.WallSeconds)
	if res.SpectralGap != nil {
		fmt.Fprintf(w, "spectral gap %.4f · consensus distance %.3g\n", *res.SpectralGap, res.FinalConsensusDistance)
	}
	if o := res.Overlay; o != nil && o.MeanLinkRTTMs > 0 {
		fmt.Fprintf(w, "mean degree %.2f · %d async links · mean link RTT %.2f ms\n", o.MeanDegree, o.AsyncLinks, o.MeanLinkRTTMs)
	}
	if m := res.Mobility; m != nil {
		fmt.Fprintf(w, "mobility: %d moves · %d re-plans · %d link changes · min degree %d · %d messages lost\n",
			m.Moves, m.Replans, m.Changes, m.MinDegree, m.Dropped)
	}
	if res.DeadlineRounds > 0 || res.LostMessages > 0 {
		fmt.Fprintf(w, "%d rounds ended by deadline · %d vectors lost\n", res.DeadlineRounds, res.LostMessages)
	}
	if res.TargetAccuracy != nil {
		if res.VirtualSecondsToTarget != nil {
			fmt.Fprintf(w, "target accuracy %.4f reached at %.2f virtual s\n", *res.TargetAccuracy, *res.VirtualSecondsToTarget)
		} else {
			fmt.Fprintf(w, "target accuracy %.4f not reached\n", *res.TargetAccuracy)
		}
	}
	if out != "" {
		fmt.Fprintf(w, "wrote %s/{metrics.csv,summary.json,accuracy.png,consensus.png}\n", out)
	}
	fmt.Fprintf(w, "final test accuracy: %.4f (min %.4f, max %.4f over peers)\n",
		res.FinalTestAccuracy, res.FinalTestAccuracyMin, res.FinalTestAccuracyMax)
}
