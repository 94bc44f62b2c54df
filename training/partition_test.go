package training

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// checkExactlyOnce fails unless parts assign each of n samples exactly once
// and every peer gets at least one.
func checkExactlyOnce(t *testing.T, parts [][]int, n, peers int) {
	t.Helper()
	if len(parts) != peers {
		t.Fatalf("%d parts, want %d", len(parts), peers)
	}
	seen := make([]int, n)
	for p, part := range parts {
		if len(part) == 0 {
			t.Errorf("peer %d has no samples", p)
		}
		for _, i := range part {
			if i < 0 || i >= n {
				t.Fatalf("peer %d holds index %d, want 0..%d", p, i, n-1)
			}
			seen[i]++
		}
	}
	for i, count := range seen {
		if count != 1 {
			t.Fatalf("sample %d assigned %d times, want exactly once", i, count)
		}
	}
}

func TestPartitionsAssignEverySampleOnce(t *testing.T) {
	labels := skewedLabels(1500, 10)
	specs := []struct {
		spec     string
		minPeers int // shards:K needs peers·K ≥ classes; fewer is an error tested elsewhere
	}{
		{"iid", 1}, {"dirichlet:0.1", 1}, {"dirichlet:0.5", 1}, {"dirichlet:1", 1}, {"dirichlet:100", 1},
		{"shards:1", 10}, {"shards:2", 5}, {"shards:3", 4},
	}
	for _, s := range specs {
		for _, peers := range []int{1, 3, 10, 16} {
			if peers < s.minPeers {
				continue
			}
			for seed := range uint64(4) {
				t.Run(fmt.Sprintf("%s/%d peers/seed %d", s.spec, peers, seed), func(t *testing.T) {
					parts, err := Partition(s.spec, labels, 10, peers, seed)
					if err != nil {
						t.Fatal(err)
					}
					checkExactlyOnce(t, parts, len(labels), peers)
				})
			}
		}
	}
}

func TestPartitionIIDBalancesSizes(t *testing.T) {
	parts, err := PartitionIID(make([]int32, 103), 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	for p, part := range parts {
		if len(part) != 10 && len(part) != 11 {
			t.Errorf("peer %d has %d samples, want 10 or 11", p, len(part))
		}
	}
	parts[0] = append(parts[0], -1)
	if parts[1][0] == -1 {
		t.Error("appending to one part overwrote the next")
	}
}

func TestPartitionsAreDeterministic(t *testing.T) {
	labels := skewedLabels(600, 5)
	for _, spec := range []string{"iid", "dirichlet:0.3", "shards:2"} {
		a, err := Partition(spec, labels, 5, 6, 42)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Partition(spec, labels, 5, 6, 42)
		c, _ := Partition(spec, labels, 5, 6, 43)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: the same seed gave different partitions", spec)
		}
		if reflect.DeepEqual(a, c) {
			t.Errorf("%s: seeds 42 and 43 gave the same partition", spec)
		}
	}
}

func TestDirichletAlphaControlsSkew(t *testing.T) {
	d, err := Digits()
	if err != nil {
		t.Fatal(err)
	}
	const peers, seeds = 20, 5
	meanSkew := func(spec string) float64 {
		total := 0.0
		for seed := range uint64(seeds) {
			parts, err := Partition(spec, d.Y, d.Classes, peers, seed)
			if err != nil {
				t.Fatal(err)
			}
			total += LabelSkew(parts, d.Y, d.Classes)
		}
		return total / seeds
	}
	skew01, skew1, skew100, iid := meanSkew("dirichlet:0.1"), meanSkew("dirichlet:1"), meanSkew("dirichlet:100"), meanSkew("iid")
	t.Logf("label skew: alpha 0.1 %.3f, alpha 1 %.3f, alpha 100 %.3f, IID %.3f", skew01, skew1, skew100, iid)
	if !(skew01 > skew1+0.15 && skew1 > skew100+0.15 && skew1 > iid+0.15) {
		t.Errorf("skew should fall clearly as alpha grows and IID should be near the bottom: alpha 0.1 %.3f, 1 %.3f, 100 %.3f, IID %.3f",
			skew01, skew1, skew100, iid)
	}
	if skew100 > 0.1 {
		t.Errorf("alpha 100 (%.3f) should be nearly unskewed", skew100)
	}
}

func TestPartitionDirichletMinimumSize(t *testing.T) {
	labels := skewedLabels(2000, 10)
	for seed := range uint64(5) {
		parts, err := PartitionDirichlet(labels, 10, 20, 0.1, seed)
		if err != nil {
			t.Fatal(err)
		}
		for p, part := range parts {
			if len(part) < 10 { // min(10, 2000/(2·20)) = 10
				t.Errorf("seed %d: peer %d has %d samples, want at least 10", seed, p, len(part))
			}
		}
	}
}

func TestPartitionShardsGivesKClassesPerPeer(t *testing.T) {
	d, err := Digits()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ peers, k int }{{10, 1}, {10, 2}, {7, 3}, {30, 2}, {5, 10}} {
		parts, err := PartitionShards(d.Y, d.Classes, tt.peers, tt.k, 9)
		if err != nil {
			t.Fatal(err)
		}
		checkExactlyOnce(t, parts, d.Len(), tt.peers)
		for p, part := range parts {
			held := map[int32]bool{}
			for _, i := range part {
				held[d.Y[i]] = true
			}
			if len(held) != tt.k {
				t.Errorf("%d peers, k=%d: peer %d holds %d classes, want %d", tt.peers, tt.k, p, len(held), tt.k)
			}
		}
	}
}

func TestLabelSkew(t *testing.T) {
	labels := []int32{0, 0, 1, 1}
	tests := []struct {
		name  string
		parts [][]int
		want  float64
	}{
		{"mirrors global", [][]int{{0, 2}, {1, 3}}, 0},
		{"one class each", [][]int{{0, 1}, {2, 3}}, 0.5},
		{"empty peer ignored", [][]int{{0, 1, 2, 3}, {}}, 0},
		{"no peers", nil, 0},
	}
	for _, tt := range tests {
		if got := LabelSkew(tt.parts, labels, 2); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: skew %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPartitionErrors(t *testing.T) {
	labels := skewedLabels(50, 5)
	tests := []struct {
		name string
		run  func() ([][]int, error)
		want string
	}{
		{"iid no peers", func() ([][]int, error) { return PartitionIID(labels, 0, 1) }, "0 peers, want at least 1"},
		{"iid too many peers", func() ([][]int, error) { return PartitionIID(labels, 51, 1) }, "51 peers but only 50 samples"},
		{"iid no samples", func() ([][]int, error) { return PartitionIID(nil, 1, 1) }, "no samples to partition"},
		{"dirichlet negative alpha", func() ([][]int, error) { return PartitionDirichlet(labels, 5, 2, -1, 1) }, "alpha must be > 0"},
		{"dirichlet NaN alpha", func() ([][]int, error) { return PartitionDirichlet(labels, 5, 2, math.NaN(), 1) }, "alpha must be > 0"},
		{"dirichlet infinite alpha", func() ([][]int, error) { return PartitionDirichlet(labels, 5, 2, math.Inf(1), 1) }, "alpha must be > 0 and finite"},
		{"dirichlet too many peers", func() ([][]int, error) { return PartitionDirichlet(labels, 5, 60, 1, 1) }, "60 peers but only 50 samples"},
		{"dirichlet negative peers", func() ([][]int, error) { return PartitionDirichlet(labels, 5, -3, 1, 1) }, "-3 peers"},
		{"dirichlet label out of range", func() ([][]int, error) { return PartitionDirichlet(labels, 3, 2, 1, 1) }, "has label 3, want 0..2"},
		{"dirichlet impossible", func() ([][]int, error) { return PartitionDirichlet(labels, 5, 50, 0.01, 1) }, "use a larger alpha or fewer peers"},
		{"shards k zero", func() ([][]int, error) { return PartitionShards(labels, 5, 5, 0, 1) }, "0 classes per peer, want 1..5"},
		{"shards k above classes", func() ([][]int, error) { return PartitionShards(labels, 5, 5, 6, 1) }, "6 classes per peer, want 1..5"},
		{"shards uncovered class", func() ([][]int, error) { return PartitionShards(labels, 5, 2, 2, 1) }, "2 peers × 2 classes each cover only 4 of the 5 classes"},
		{"shards too many peers", func() ([][]int, error) { return PartitionShards(labels, 5, 51, 1, 1) }, "51 peers but only 50 samples"},
		{"shards starved peer", func() ([][]int, error) { return PartitionShards([]int32{0, 0, 0, 0, 1}, 2, 4, 1, 1) }, "gets no samples"},
		{"shards no classes", func() ([][]int, error) { return PartitionShards(labels, 0, 2, 1, 1) }, "0 classes, want at least 1"},
		{"spec dirichlet:-1", func() ([][]int, error) { return Partition("dirichlet:-1", labels, 5, 2, 1) }, "alpha must be > 0 and finite, got -1"},
		{"spec dirichlet:x", func() ([][]int, error) { return Partition("dirichlet:x", labels, 5, 2, 1) }, `alpha "x" is not a number`},
		{"spec shards:x", func() ([][]int, error) { return Partition("shards:x", labels, 5, 2, 1) }, `K "x" is not an integer`},
		{"spec unknown", func() ([][]int, error) { return Partition("random", labels, 5, 2, 1) }, `unknown partition "random": want iid, dirichlet:ALPHA`},
		{"spec dirichlet without alpha", func() ([][]int, error) { return Partition("dirichlet", labels, 5, 2, 1) }, "unknown partition"},
		{"spec iid with argument", func() ([][]int, error) { return Partition("iid:3", labels, 5, 2, 1) }, "unknown partition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := tt.run()
			if err == nil {
				t.Fatalf("no error, got %d parts", len(parts))
			}
			if !strings.HasPrefix(err.Error(), "training: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
		})
	}
}
