package main

import (
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/topology"
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
	} {
		code, _, errOut := gradmesh(t, append([]string{"join"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("join %v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, errOut, c.want)
		}
	}
}
