package sims

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSummaryConfigKeys: summary.json's "config" keeps the keys scripts
// read, the recipe's among the simulated world's (the order is not kept).
func TestSummaryConfigKeys(t *testing.T) {
	dir := t.TempDir()
	s := smallSpec()
	s.Rounds = 2
	if err := WriteOutputs(dir, s, runSpec(t, s, 0)); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range doc.Config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"aggregate", "algo", "bandwidth_mbps", "batch", "context", "dataset", "degree", "edge_preset", "epochs", "eval_every",
		"eval_samples", "latency_ms", "long_links", "long_period", "lr", "mix", "mobility_speedup", "model", "momentum",
		"neighbors", "nesterov", "optimizer", "partition", "peer_gflops", "peers", "round_timeout_ms", "rounds", "schedule", "seed",
		"test_fraction", "topology", "warmup_rounds", "weight_decay", "weighting"}
	if !slices.Equal(keys, want) {
		t.Errorf("config keys\n%q\nwant\n%q", keys, want)
	}
	if doc.Config["model"] != "softmax" || doc.Config["batch"] != 16.0 || doc.Config["rounds"] != 2.0 {
		t.Errorf("config model %v, batch %v, rounds %v; want softmax, 16, 2", doc.Config["model"], doc.Config["batch"], doc.Config["rounds"])
	}
}
