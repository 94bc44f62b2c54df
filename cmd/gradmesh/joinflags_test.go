package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/gpu"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
)

func TestJoinNeighborFlags(t *testing.T) {
	flags := func(policy string, degree, long, period int) joinFlags {
		return joinFlags{neighbors: policy, degree: degree, longLinks: long, longPeriod: period}
	}
	cfg, err := neighborConfig(flags("latency+long", 6, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Policy != topology.PolicyLatencyLong || cfg.Degree != 6 || cfg.Long != 2 || cfg.LongPeriod != 3 || cfg.MaxDegree != 12 || cfg.Seed != 0 {
		t.Errorf("latency+long, degree 6, 2 long links every 3 rounds: %+v", cfg)
	}
	// --long-links keeps its default under the other policies, which make
	// no long links: it is ignored there, as in gradmesh sim.
	for _, p := range []string{"random", "latency"} {
		if cfg, err := neighborConfig(flags(p, 4, 1, 2)); err != nil || cfg.Long != 0 || string(cfg.Policy) != p {
			t.Errorf("--neighbors %s: %+v, %v", p, cfg, err)
		}
	}
}

func TestJoinRejectsBadNeighborFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--neighbors", "closest"}, "--neighbors"},
		{[]string{"--degree", "0"}, "--degree 0"},
		{[]string{"--degree", "17"}, "--degree 17"},
		{[]string{"--long-links", "0"}, "--long-links 0"},
		{[]string{"--long-links", "4"}, "Long=4 must be below Degree=4"},
		{[]string{"--long-period", "0"}, "--long-period 0"},
		{[]string{"--aggregate", "trimmed:0.1"}, `unknown aggregator "trimmed:0.1" (want mean)`},
	} {
		code, _, errOut := gradmesh(t, append([]string{"join"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("join %v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, errOut, c.want)
		}
	}
}

// TestJoinRejectsBadRecipeFlags: the recipe's flags fail as in gradmesh sim,
// before the peer loads data or touches the network.
func TestJoinRejectsBadRecipeFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mix", "x"}, `--mix "x": want atc`},
		{[]string{"--batch", "0"}, "--batch 0: "},
		{[]string{"--warmup", "-1"}, "--warmup -1: "},
		{[]string{"--model", "cnn"}, `unknown model "cnn" (want softmax, mlp:H1[,H2...]`},
		{[]string{"--optimizer", "rmsprop"}, `"rmsprop"`},
		{[]string{"--shard", "6/6"}, `--shard "6/6"`},
		{[]string{"--partition", "shards:0", "--shard", "1/4"}, "0 classes per peer"},
	} {
		code, _, errOut := gradmesh(t, append([]string{"join", "--device", "cpu"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("join %v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, errOut, c.want)
		}
	}
}

// TestPrepareJoinTakesItsShard: --shard I/N trains on the recipe's shard I of
// N with weight n_i/n̄, from the x₀ every peer of the run draws.
func TestPrepareJoinTakesItsShard(t *testing.T) {
	f := joinFlags{learn: training.DefaultRecipe(), rounds: 10, neighbors: string(topology.PolicyLatencyLong),
		degree: topology.DefaultSelectDegree, longLinks: topology.DefaultSelectLong, longPeriod: topology.DefaultLongPeriod,
		minPeers: 1, shard: "2/6", aggregate: training.DefaultAggregator, device: deviceFlags{mode: "cpu", index: gpu.AnyGPU, idleUtil: 10}}
	f.learn.Partition = "dirichlet:1"
	s, err := prepareJoin(f)
	if err != nil {
		t.Fatal(err)
	}
	recipe, err := f.learn.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	parts, err := recipe.Partition(6)
	if err != nil {
		t.Fatal(err)
	}
	weight := float64(len(parts[2])) * 6 / float64(recipe.Train.Len())
	if !slices.Equal(s.train.Y, recipe.Train.Subset(parts[2]).Y) || s.weight != weight {
		t.Errorf("--shard 2/6: %d samples, weight %g; want %d, %g", s.train.Len(), s.weight, len(parts[2]), weight)
	}
	if !slices.Equal(s.recipe.Init, recipe.Init) || s.recipe.Model.Spec() != "mlp:64-64-10" {
		t.Errorf("x₀ or model (%s) differs from the recipe's", s.recipe.Model.Spec())
	}
	f.shard = ""
	if s, err = prepareJoin(f); err != nil || s.train != s.recipe.Train || s.weight != 1 {
		t.Errorf("no --shard: %v; want all %d training samples at weight 1, got %d at %g", err, recipe.Train.Len(), s.train.Len(), s.weight)
	}
}
