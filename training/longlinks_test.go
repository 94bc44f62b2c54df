package training

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// longPair builds two nodes, i and j, joined by one long link of weight w
// and nothing else, both with zero gradients, so only mixing moves them.
func longPair(t *testing.T, xi, xj float32, w float64, period int) (*Node, *Node) {
	t.Helper()
	mk := func(id, other PeerID, x float32) *Node {
		n, err := NewNode(NodeConfig{ID: id, Params: []float32{x}, SelfWeight: 1 - w,
			Neighbors: []Neighbor{{ID: other, Weight: w, Long: true}}, LongPeriod: period,
			Optimizer: OptimizerConfig{Kind: "sgd"}.New(1), Schedule: ConstantLR{Base: 0.1}})
		must(t, err)
		n.Start()
		return n
	}
	return mk("i", "j", xi), mk("j", "i", xj)
}

func TestLongLinkDoesNotPaceRoundsWithinItsPeriod(t *testing.T) {
	i, _ := longPair(t, 0, 8, 0.25, 4)
	rd := i.Ready()
	if len(rd.Messages) != 1 || rd.Messages[0].To != "j" || rd.Messages[0].Round != 0 {
		t.Fatalf("round 0 opens an exchange with the long neighbor: %+v", rd.Messages)
	}
	// Rounds 0..3 finish on the local step alone; only round 0 sends.
	for r := range 4 {
		must(t, i.GradientDone(r, []float32{0}, 0))
		rd := i.Ready()
		if len(rd.Rounds) != 1 {
			t.Fatalf("round %d waited for the long neighbor", r)
		}
		if r < 3 && len(rd.Messages) != 0 {
			t.Fatalf("round %d sent off-cadence: %+v", r+1, rd.Messages)
		}
		if near, long := i.Missing(); r < 3 && len(near)+len(long) != 0 {
			t.Fatalf("round %d, which closes no exchange, misses near %v, long %v", r+1, near, long)
		}
	}
	// Round 4 closes exchange 0: it may not finish before j's half arrives.
	must(t, i.GradientDone(4, []float32{0}, 0))
	if rd := i.Ready(); len(rd.Rounds) != 0 {
		t.Fatal("round 4 finished without the exchange opened in round 0")
	}
	if near, long := i.Missing(); len(near) != 0 || len(long) != 1 || long[0] != "j" {
		t.Fatalf("round 4 misses near %v, long %v; want long [j] only", near, long)
	}
	must(t, i.Receive(Message{From: "j", Round: 0, Params: []float32{8}}))
	rd = i.Ready()
	if len(rd.Rounds) != 1 || rd.Rounds[0].LongMixed != 1 {
		t.Fatalf("round 4 did not apply the exchange: %+v", rd.Rounds)
	}
	if got := rd.Rounds[0].Params[0]; got != 0.25*8 {
		t.Fatalf("x = %g after the correction, want 0 + 0.25·(8 − 0) = 2", got)
	}
}

func TestLongLinkCorrectionsPreserveTheAverage(t *testing.T) {
	// The two halves of an exchange land rounds apart and in different
	// rounds on each side, yet the pair converges to the exact average:
	// mixing a stale vector into a newer model would lose it.
	i, j := longPair(t, 0, 8, 0.25, 2)
	type flight struct {
		m  Message
		at int // round of the receiver at which it is delivered
	}
	var inflight []flight
	nodes := map[PeerID]*Node{"i": i, "j": j}
	delay := map[PeerID]int{"i": 1, "j": 2} // rounds a message from each side spends in flight
	for step := 0; step < 100; step++ {
		for _, id := range []PeerID{"i", "j"} {
			n := nodes[id]
			for { // run rounds until one waits for a long exchange
				rd := n.Ready()
				for _, m := range rd.Messages {
					inflight = append(inflight, flight{m, m.Round + delay[id]})
				}
				if rd.Gradient == nil {
					break
				}
				must(t, n.GradientDone(rd.Gradient.Round, []float32{0}, 0))
			}
		}
		keep := inflight[:0]
		for _, f := range inflight {
			to := nodes[f.m.To]
			if to.Round() >= f.at {
				must(t, to.Receive(f.m))
				continue
			}
			keep = append(keep, f)
		}
		inflight = keep
	}
	// Halves in flight move the sum for a while; once the pair has agreed,
	// the corrections are zero and the sum is the starting one.
	a, b := i.Params()[0], j.Params()[0]
	if math.Abs(float64(a-4)) > 1e-4 || math.Abs(float64(b-4)) > 1e-4 {
		t.Fatalf("models %g and %g, want both at the average 4", a, b)
	}
	if i.Round() < 100 || j.Round() < 100 {
		t.Fatalf("rounds %d and %d: the pair stalled", i.Round(), j.Round())
	}
}

func TestLongLinkRefusesWhatItMustNotMix(t *testing.T) {
	i, _ := longPair(t, 0, 0, 0.5, 4)
	i.Ready()
	must(t, i.Receive(Message{From: "j", Round: 4, Params: []float32{1}})) // j is ahead: buffered
	cases := []struct {
		m    Message
		want error
	}{
		{Message{From: "j", Round: 2, Params: []float32{1}}, ErrOffCadence},
		{Message{From: "j", Round: 4, Params: []float32{1}}, ErrDuplicate},
		{Message{From: "j", Round: 12, Params: []float32{1}}, ErrFutureRound},
		{Message{From: "j", Round: 0, Params: []float32{1, 2}}, ErrShape},
	}
	for _, c := range cases {
		if err := i.Receive(c.m); !errors.Is(err, c.want) {
			t.Errorf("Receive(%+v) = %v, want %v", c.m, err, c.want)
		}
	}
	// A deadline gives up on exchange 0 in round 4; its late half is stale.
	for r := range 4 {
		must(t, i.GradientDone(r, []float32{0}, 0))
	}
	must(t, i.GradientDone(4, []float32{0}, 0))
	i.Deadline(4)
	if i.Round() != 5 {
		t.Fatalf("deadline did not close round 4: in round %d", i.Round())
	}
	if err := i.Receive(Message{From: "j", Round: 0, Params: []float32{1}}); !errors.Is(err, ErrStaleRound) {
		t.Errorf("half of a closed exchange: %v, want stale", err)
	}
}

func TestSetNeighborsFromSwitchesAtTheGivenRound(t *testing.T) {
	n := newTestNode(t, "i", []float32{0}, 0.5, []Neighbor{{ID: "a", Weight: 0.5}}, 0)
	n.Start()
	n.Ready()
	must(t, n.SetNeighborsFrom(2, 0.5, []Neighbor{{ID: "b", Weight: 0.5}}))
	if err := n.Receive(Message{From: "b", Round: 1, Params: []float32{1}}); !errors.Is(err, ErrNotNeighbor) {
		t.Fatalf("b accepted for round 1, before its set takes effect: %v", err)
	}
	must(t, n.Receive(Message{From: "b", Round: 2, Params: []float32{1}}))
	for r := range 2 {
		must(t, n.Receive(Message{From: "a", Round: r, Params: []float32{0}}))
		must(t, n.GradientDone(r, []float32{0}, 0))
		if nb := n.Neighbors(); r == 0 && nb[0].ID != "a" {
			t.Fatalf("round 1 already uses the new set: %+v", nb)
		}
	}
	if nb := n.Neighbors(); len(nb) != 1 || nb[0].ID != "b" || n.Round() != 2 {
		t.Fatalf("round %d neighbors %+v, want b from round 2", n.Round(), nb)
	}
	rd := n.Ready()
	if last := rd.Messages[len(rd.Messages)-1]; last.To != "b" || last.Round != 2 {
		t.Fatalf("round 2 message went to %s", last.To)
	}
}

func TestLongExchangesOpenOnlyIfTheyCloseByTheLastRound(t *testing.T) {
	n, err := NewNode(NodeConfig{ID: "i", Params: []float32{0}, SelfWeight: 0.5,
		Neighbors: []Neighbor{{ID: "j", Weight: 0.5, Long: true}}, LongPeriod: 4, Rounds: 10,
		Optimizer: OptimizerConfig{Kind: "sgd"}.New(1), Schedule: ConstantLR{Base: 0.1}})
	must(t, err)
	n.Start()
	var opened []int
	for r := 0; !n.Done(); r++ {
		for _, m := range n.Ready().Messages {
			opened = append(opened, m.Round)
		}
		must(t, n.GradientDone(r, []float32{0}, 0))
		n.Deadline(r)
	}
	// Round 8's exchange would close in round 12, after the last (9).
	if len(opened) != 2 || opened[0] != 0 || opened[1] != 4 {
		t.Fatalf("exchanges opened in rounds %v, want [0 4]", opened)
	}
}

// TestNearVectorsLeaveFirst: a round waits for its near vectors, so on an
// exchange round they are handed out before the long ones, whatever the
// neighbors' order by ID.
func TestNearVectorsLeaveFirst(t *testing.T) {
	nb := []Neighbor{{ID: "a", Weight: 0.2, Long: true}, {ID: "b", Weight: 0.2}, {ID: "c", Weight: 0.2, Long: true}, {ID: "d", Weight: 0.2}}
	n, err := NewNode(NodeConfig{ID: "x", Params: []float32{1}, SelfWeight: 0.2, Neighbors: nb, Rounds: 10, LongPeriod: 2,
		Optimizer: OptimizerConfig{Kind: "sgd"}.New(1), Schedule: ConstantLR{Base: 0.1}, Order: CombineThenAdapt})
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	var to []PeerID
	for _, m := range n.Ready().Messages {
		to = append(to, m.To)
	}
	if want := []PeerID{"b", "d", "a", "c"}; !slices.Equal(to, want) {
		t.Errorf("round 0 sends to %v, want %v (near first)", to, want)
	}
}
