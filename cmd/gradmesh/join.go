package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/gpu"
	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/nn/openblas"
	"github.com/gradmesh/gradmesh/p2p"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

type joinFlags struct {
	learn                               training.Recipe // what the run trains: the flags shared with sim
	aggregate                           string
	key, run, shard, statusAddr, out    string
	allowFile                           string
	listen, bootstrap                   stringList
	rounds, degree, evalEvery, minPeers int
	neighbors                           string
	longLinks, longPeriod               int
	noMDNS, relayService                bool
	roundTimeout                        time.Duration
	uplinkMbps                          float64
	device                              deviceFlags
}

func runJoin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := joinFlags{learn: training.DefaultRecipe(), aggregate: training.DefaultAggregator}
	fs := flag.NewFlagSet("join", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addTrainingFlags(fs, &f.learn)
	addAggregateFlag(fs, &f.aggregate)
	fs.StringVar(&f.key, "key", "gradmesh.key", "peer identity file (created with mode 0600 if missing)")
	fs.Var(&f.listen, "listen", "multiaddr to listen on (repeatable; default TCP and QUIC on all interfaces, random ports)")
	fs.Var(&f.bootstrap, "bootstrap", "multiaddr of any mesh peer, with /p2p/ID (repeatable)")
	fs.StringVar(&f.run, "run", "default", "training run name: peers of one run train one model")
	fs.StringVar(&f.shard, "shard", "", "I/N: train on partition I (0-based) of N, for demos where peers carve one data set")
	fs.IntVar(&f.rounds, "rounds", 300, "rounds to train")
	fs.StringVar(&f.neighbors, "neighbors", string(topology.PolicyLatencyLong), "neighbor policy: random|latency|latency+long (the same on every peer of a run)")
	fs.IntVar(&f.degree, "degree", topology.DefaultSelectDegree, "links each peer proposes (near + long); it may accept up to twice as many")
	fs.IntVar(&f.longLinks, "long-links", topology.DefaultSelectLong, "of those, long-range links under latency+long (mixed asynchronously)")
	fs.IntVar(&f.longPeriod, "long-period", topology.DefaultLongPeriod, "rounds between exchanges over a long link")
	fs.IntVar(&f.minPeers, "min-peers", 1, "other peers of the run to wait for before the first round (when a mesh starts together, its size − 1)")
	fs.DurationVar(&f.roundTimeout, "round-timeout", training.DefaultRoundTimeout, "longest a round waits for slow or dead neighbors")
	fs.Float64Var(&f.uplinkMbps, "uplink-mbps", 0, "this machine's uplink rate, Mbit/s (0: not stated): a slow uplink then takes fewer links, so it does not pace the mesh")
	fs.IntVar(&f.evalEvery, "eval-every", 20, "rounds between test evaluations")
	fs.StringVar(&f.statusAddr, "status-addr", "", "HOST:PORT serving GET /status (JSON) and /metrics (Prometheus)")
	fs.StringVar(&f.out, "out", "", "directory for summary.json when training finishes")
	fs.BoolVar(&f.noMDNS, "no-mdns", false, "do not look for peers on the LAN with mDNS")
	fs.StringVar(&f.allowFile, "allow", "", "private mesh: file of peer IDs (one per line) allowed to connect; others are refused")
	fs.BoolVar(&f.relayService, "relay-service", false, "offer circuit relay v2 to peers behind NATs (for publicly reachable peers)")
	addDeviceFlags(fs, &f.device)
	addLendingFlags(fs, &f.device)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	blasLine, err := openblas.Select()
	if err != nil {
		return err
	}
	setup, err := prepareJoin(f)
	if err != nil {
		return usageError("%v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// A live peer computes one step at a time: each product gets all of the
	// BLAS's threads, and its layers may use every core.
	log.Info("blas: " + blasLine)
	nn.SetParallelism(runtime.GOMAXPROCS(0))
	return setup.run(ctx, f, log, stdout)
}

// joinSetup is everything a peer needs before it touches the network.
type joinSetup struct {
	recipe    *training.PreparedRecipe // the data, model and x₀ every peer of the run shares
	train     *training.Dataset        // this peer's data: its --shard, or all of recipe.Train
	weight    float64                  // its data weight n_i/n̄ (1 without --shard)
	schedule  training.Schedule
	allow     []peer.ID
	neighbors topology.SelectConfig
	idle      gpu.IdleConfig
}

func prepareJoin(f joinFlags) (*joinSetup, error) {
	if f.rounds < 1 {
		return nil, fmt.Errorf("--rounds %d: want ≥ 1", f.rounds)
	}
	if err := f.learn.Check(); err != nil {
		return nil, err
	}
	neighbors, err := neighborConfig(f)
	if err != nil {
		return nil, err
	}
	if f.minPeers < 1 {
		return nil, fmt.Errorf("--min-peers %d: want ≥ 1", f.minPeers)
	}
	if _, err := training.ParseAggregator(f.aggregate); err != nil {
		return nil, fmt.Errorf("--aggregate: %w", err)
	}
	shard, shards := 0, 1
	if f.shard != "" {
		if shard, shards, err = parseShard(f.shard); err != nil {
			return nil, err
		}
	}
	if err := f.device.check(); err != nil {
		return nil, err
	}
	idle, err := f.device.idleConfig()
	if err != nil {
		return nil, err
	}
	recipe, err := f.learn.Prepare()
	if err != nil {
		return nil, err
	}
	s := &joinSetup{recipe: recipe, train: recipe.Train, weight: 1, neighbors: neighbors, idle: idle}
	if f.shard != "" {
		if s.train, s.weight, err = recipe.Shard(shard, shards); err != nil {
			return nil, err
		}
	}
	if s.schedule, err = f.learn.LRSchedule(f.rounds); err != nil {
		return nil, err
	}
	if f.allowFile != "" {
		if s.allow, err = readAllowList(f.allowFile); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// neighborConfig reads the neighbor-selection flags as gradmesh sim does:
// --long-links counts only under latency+long. The seed is left to the
// peer, which derives it from the run name so that all peers agree.
func neighborConfig(f joinFlags) (topology.SelectConfig, error) {
	p, err := topology.ParsePolicy(f.neighbors)
	if err != nil {
		return topology.SelectConfig{}, fmt.Errorf("--neighbors: %w", err)
	}
	long := 0
	if p == topology.PolicyLatencyLong {
		if f.longLinks < 1 {
			return topology.SelectConfig{}, fmt.Errorf("--long-links %d with --neighbors latency+long: use --neighbors latency for no long links", f.longLinks)
		}
		long = f.longLinks
	}
	switch {
	case f.degree < 1 || f.degree > wire.MaxProposals/2:
		return topology.SelectConfig{}, fmt.Errorf("--degree %d: want 1..%d (a peer accepts up to twice its degree)", f.degree, wire.MaxProposals/2)
	case f.longPeriod < 1:
		return topology.SelectConfig{}, fmt.Errorf("--long-period %d: want ≥ 1 round", f.longPeriod)
	case !(f.uplinkMbps >= 0) || f.uplinkMbps > 1e6:
		return topology.SelectConfig{}, fmt.Errorf("--uplink-mbps %g: want 0 (not stated) to 1000000", f.uplinkMbps)
	}
	cfg := topology.SelectConfig{Policy: p, Degree: f.degree, Long: long, LongPeriod: f.longPeriod}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("--degree %d / --long-links %d / --long-period %d: %w", f.degree, f.longLinks, f.longPeriod, err)
	}
	return cfg, nil
}

func parseShard(v string) (int, int, error) {
	a, b, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %q: want I/N with 0 ≤ I < N, e.g. 2/6", v)
	}
	return i, n, nil
}

func readAllowList(path string) ([]peer.ID, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--allow: %w", err)
	}
	var ids []peer.ID
	for n, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, err := peer.Decode(line)
		if err != nil {
			return nil, fmt.Errorf("--allow %s line %d: %q is not a peer ID: %v", path, n+1, line, err)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("--allow %s: no peer IDs in the file", path)
	}
	return ids, nil
}

func (s *joinSetup) run(ctx context.Context, f joinFlags, log *slog.Logger, stdout io.Writer) error {
	dev, err := startPeerDevice(f.device, s.idle, f.learn.Model, s.train.Shape, s.train.Classes, s.recipe.Model.Clone(), log)
	if err != nil {
		return err
	}
	defer dev.stop()
	key, created, err := p2p.LoadOrCreateKey(f.key)
	if err != nil {
		return err
	}
	if created {
		log.Info("created a new peer identity", "file", f.key)
	}
	h, err := p2p.New(ctx, p2p.Config{Key: key, Listen: f.listen, Bootstrap: f.bootstrap, MDNS: !f.noMDNS,
		AllowList: s.allow, RelayService: f.relayService, Logger: log})
	if err != nil {
		return err
	}
	defer h.Close()
	log.Info("peer up", "id", h.ID(), "addrs", strings.Join(h.Addrs(), " "))
	go h.JoinRun(ctx, f.run, 5*time.Second)

	scorer := gossip.NewScorer()
	ps, err := gossip.NewPubSub(ctx, h.Host, scorer)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(f.learn.Seed, uint64(time.Now().UnixNano()))) // batches differ per peer and per start
	steps := training.NewStepper(s.train, f.learn.Batch, rng)
	var batch training.Minibatch
	evalModel := s.recipe.Model.Clone()
	protect := func(id peer.ID, keep bool) {
		if keep {
			h.Protect(id, "gradmesh-neighbor")
		} else {
			h.Unprotect(id, "gradmesh-neighbor")
		}
	}
	p, err := gossip.NewPeer(gossip.PeerConfig{
		Transport: gossip.NewPubSubTransport(h.Host, ps, scorer, protect),
		RTT:       h.RTT, Run: f.run, ModelSpec: s.recipe.Model.Spec(),
		Learning: gossip.Learning{Init: s.recipe.Init, Optimizer: f.learn.OptimizerConfig(), Schedule: s.schedule,
			Rounds: f.rounds, DataWeight: s.weight, Order: f.learn.MixOrder(), Aggregate: f.aggregate},
		Gradient:  func(params, grad []float32) float64 { return steps.Gradient(dev, params, grad, &batch) },
		Evaluate:  func(params []float32) training.Evaluation { return training.Evaluate(evalModel, params, s.recipe.Test) },
		EvalEvery: f.evalEvery, Batch: f.learn.Batch, Neighbors: s.neighbors, MinPeers: f.minPeers, MaxRoundTimeout: f.roundTimeout,
		UplinkBitsPerSec: f.uplinkMbps * 1e6, Logger: log,
		GPUStatus: dev.status,
	})
	if err != nil {
		return err
	}
	if f.statusAddr != "" {
		stop, err := serveStatus(f.statusAddr, p, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	sum, err := p.Run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		log.Info("stopped by signal", "round", sum.Rounds)
	}
	if f.out != "" {
		if err := writeJSON(filepath.Join(f.out, "summary.json"), sum); err != nil {
			return err
		}
	}
	quality := fmt.Sprintf("final test accuracy %.4f", sum.FinalTestAccuracy)
	if s.recipe.Test.Vocab != nil {
		quality = fmt.Sprintf("final validation loss %.4f nats/token, perplexity %.3f, next-token accuracy %.4f",
			sum.FinalTestLoss, math.Exp(sum.FinalTestLoss), sum.FinalTestAccuracy)
	}
	fmt.Fprintf(stdout, "peer %s: %d rounds, %s, %d neighbors, %d bytes in, %d bytes out\n",
		sum.PeerID, sum.Rounds, quality, len(sum.Neighbors), sum.BytesIn, sum.BytesOut)
	return nil
}

// serveStatus serves /status and /metrics until stop is called.
func serveStatus(addr string, p *gossip.Peer, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--status-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(p.Status())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		p.Status().WritePrometheus(w)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("status server stopped", "err", err)
		}
	}()
	log.Info("status server up", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
