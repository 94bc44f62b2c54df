package training

import (
	"errors"
	"math"
	"testing"
)

func newTestNode(t *testing.T, id PeerID, x []float32, self float64, nb []Neighbor, rounds int) *Node {
	t.Helper()
	n, err := NewNode(NodeConfig{ID: id, Params: x, SelfWeight: self, Neighbors: nb,
		Optimizer: OptimizerConfig{Kind: "sgd"}.New(len(x)), Schedule: ConstantLR{Base: 0.5}, Rounds: rounds})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNodeRoundArithmetic(t *testing.T) {
	// x₁ = 0.5·x + 0.25·a + 0.25·b − 0.5·g
	n := newTestNode(t, "i", []float32{4, 8}, 0.5, []Neighbor{{ID: "b", Weight: 0.25}, {ID: "a", Weight: 0.25}}, 0)
	n.Start()
	rd := n.Ready()
	if len(rd.Messages) != 2 || rd.Gradient == nil || rd.Gradient.Round != 0 {
		t.Fatalf("start: %+v", rd)
	}
	if rd.Messages[0].To != "a" || rd.Messages[1].To != "b" || rd.Messages[0].Params[1] != 8 {
		t.Fatalf("round-0 messages go to neighbors in ID order with x₀: %+v", rd.Messages)
	}
	must(t, n.Receive(Message{From: "a", Round: 0, Params: []float32{0, 0}}))
	must(t, n.GradientDone(0, []float32{2, -2}, 1.5))
	if rd := n.Ready(); len(rd.Rounds) != 0 {
		t.Fatal("round finished before neighbor b arrived")
	}
	must(t, n.Receive(Message{From: "b", Round: 0, Params: []float32{8, 4}}))
	rd = n.Ready()
	if len(rd.Rounds) != 1 {
		t.Fatalf("round did not finish: %+v", rd)
	}
	got := rd.Rounds[0]
	want := []float32{0.5*4 + 0.25*8 - 0.5*2, 0.5*8 + 0.25*4 + 0.5*2}
	if got.Params[0] != want[0] || got.Params[1] != want[1] || got.Arrived != 2 || got.Loss != 1.5 {
		t.Fatalf("round result %+v, want params %v", got, want)
	}
	if rd.Gradient == nil || rd.Gradient.Round != 1 || len(rd.Messages) != 2 || n.Round() != 1 {
		t.Fatalf("round 1 did not start: %+v", rd)
	}
}

func TestNodeDeadlineGivesMissingWeightToSelf(t *testing.T) {
	n := newTestNode(t, "i", []float32{10}, 0.5, []Neighbor{{ID: "a", Weight: 0.25}, {ID: "b", Weight: 0.25}}, 0)
	n.Start()
	n.Ready()
	must(t, n.Receive(Message{From: "a", Round: 0, Params: []float32{2}}))
	if near, long := n.Missing(); len(near) != 1 || near[0] != "b" || len(long) != 0 {
		t.Fatalf("missing near %v, long %v; want near [b]", near, long)
	}
	n.Deadline(0) // before the step: the round must still wait for the gradient
	if len(n.Ready().Rounds) != 0 {
		t.Fatal("round finished without its gradient")
	}
	must(t, n.GradientDone(0, []float32{0}, 0))
	rd := n.Ready()
	if len(rd.Rounds) != 1 {
		t.Fatal("deadline passed but the round did not finish")
	}
	if r := rd.Rounds[0]; r.Params[0] != 0.75*10+0.25*2 || r.Arrived != 1 || r.Expected != 2 {
		t.Fatalf("renormalised mix: %+v, want 8 with 1 of 2 arrived", r)
	}
	n.Deadline(0) // late timer for a finished round: ignored
	if n.Round() != 1 || len(n.Ready().Rounds) != 0 {
		t.Fatal("stale deadline changed the node")
	}
}

func TestNodeRejectsMessagesItMustNotMix(t *testing.T) {
	n := newTestNode(t, "i", []float32{1, 1}, 0.5, []Neighbor{{ID: "a", Weight: 0.5}}, 0)
	n.Start()
	must(t, n.Receive(Message{From: "a", Round: 1, Params: []float32{0, 0}}))
	cases := []struct {
		m    Message
		want error
	}{
		{Message{From: "z", Round: 0, Params: []float32{0, 0}}, ErrNotNeighbor},
		{Message{From: "a", Round: 9, Params: []float32{0, 0}}, ErrFutureRound}, // default window: 2·LongPeriod = 8
		{Message{From: "a", Round: 0, Params: []float32{0}}, ErrShape},
		{Message{From: "a", Round: 1, Params: []float32{5, 5}}, ErrDuplicate},
	}
	for _, c := range cases {
		if err := n.Receive(c.m); !errors.Is(err, c.want) {
			t.Errorf("Receive(%+v) = %v, want %v", c.m, err, c.want)
		}
	}
	must(t, n.Receive(Message{From: "a", Round: 0, Params: []float32{3, 3}}))
	must(t, n.GradientDone(0, []float32{0, 0}, 0))
	if err := n.Receive(Message{From: "a", Round: 0, Params: []float32{0, 0}}); !errors.Is(err, ErrStaleRound) {
		t.Errorf("stale message: %v", err)
	}
	if err := n.GradientDone(0, []float32{0, 0}, 0); err == nil {
		t.Error("second step result for a finished round accepted")
	}
	// The buffered round-1 message finishes round 1 as soon as its step is in.
	must(t, n.GradientDone(1, []float32{0, 0}, 0))
	if n.Round() != 2 {
		t.Fatalf("buffered round-1 message was not used: node in round %d", n.Round())
	}
}

func TestNodeNeighborChangeTakesEffectNextRound(t *testing.T) {
	n := newTestNode(t, "i", []float32{0}, 0.5, []Neighbor{{ID: "a", Weight: 0.5}}, 0)
	n.Start()
	n.Ready()
	must(t, n.SetNeighbors(0.5, []Neighbor{{ID: "b", Weight: 0.5}}))
	if err := n.Receive(Message{From: "b", Round: 0, Params: []float32{1}}); !errors.Is(err, ErrNotNeighbor) {
		t.Fatalf("new neighbor accepted for the round in progress: %v", err)
	}
	must(t, n.Receive(Message{From: "b", Round: 1, Params: []float32{4}})) // early, for the next round
	must(t, n.Receive(Message{From: "a", Round: 0, Params: []float32{2}}))
	must(t, n.GradientDone(0, []float32{0}, 0))
	rd := n.Ready()
	if len(rd.Messages) != 1 || rd.Messages[0].To != "b" {
		t.Fatalf("round 1 messages: %+v", rd.Messages)
	}
	must(t, n.GradientDone(1, []float32{0}, 0))
	if rd := n.Ready(); len(rd.Rounds) != 1 || rd.Rounds[0].Params[0] != 0.5*1+0.5*4 {
		t.Fatalf("round 1 did not mix b's early message: %+v", rd.Rounds)
	}
	if err := n.SetNeighbors(0.2, []Neighbor{{ID: "b", Weight: 0.5}}); err == nil {
		t.Fatal("weights summing to 0.7 accepted")
	}
	if err := n.SetNeighbors(0.5, []Neighbor{{ID: "i", Weight: 0.5}}); err == nil {
		t.Fatal("node accepted itself as neighbor")
	}
}

func TestNodeStopsAfterRounds(t *testing.T) {
	n := newTestNode(t, "solo", []float32{1}, 1, nil, 2)
	n.Start()
	for r := range 2 {
		if n.Ready().Gradient == nil {
			t.Fatalf("round %d did not ask for a step", r)
		}
		must(t, n.GradientDone(r, []float32{1}, 0))
	}
	rd := n.Ready()
	if !rd.Done || !n.Done() || rd.Gradient != nil || n.Params()[0] != 0 {
		t.Fatalf("after 2 rounds: %+v params %v", rd, n.Params())
	}
}

func TestNodeStartsAtALaterRound(t *testing.T) {
	n, err := NewNode(NodeConfig{ID: "late", Params: []float32{1}, SelfWeight: 1, StartRound: 8, Rounds: 10,
		Optimizer: OptimizerConfig{Kind: "sgd"}.New(1), Schedule: ConstantLR{Base: 1}})
	must(t, err)
	n.Start()
	if rd := n.Ready(); rd.Gradient == nil || rd.Gradient.Round != 8 {
		t.Fatalf("late joiner's first step: %+v", rd.Gradient)
	}
	must(t, n.GradientDone(8, []float32{0}, 0))
	must(t, n.GradientDone(9, []float32{0}, 0))
	if !n.Done() {
		t.Fatal("late joiner did not stop at round 10")
	}
	if _, err := NewNode(NodeConfig{ID: "x", Params: []float32{1}, SelfWeight: 1, StartRound: 10, Rounds: 10,
		Optimizer: OptimizerConfig{Kind: "sgd"}.New(1), Schedule: ConstantLR{Base: 1}}); err == nil {
		t.Fatal("start round past the last round accepted")
	}
}

func TestNewNodeRejectsBadConfig(t *testing.T) {
	opt := OptimizerConfig{Kind: "sgd"}.New(1)
	bad := []NodeConfig{
		{ID: "i", SelfWeight: 1, Optimizer: opt, Schedule: ConstantLR{1}},
		{ID: "i", Params: []float32{0}, SelfWeight: 1, Schedule: ConstantLR{1}},
		{ID: "i", Params: []float32{0}, SelfWeight: 0.5, Optimizer: opt, Schedule: ConstantLR{1}},
		{ID: "i", Params: []float32{0}, SelfWeight: 0.5, Optimizer: opt, Schedule: ConstantLR{1},
			Neighbors: []Neighbor{{ID: "a", Weight: 0.25}, {ID: "a", Weight: 0.25}}},
		{ID: "i", Params: []float32{0}, SelfWeight: 1, Optimizer: opt, Schedule: ConstantLR{1},
			Neighbors: []Neighbor{{ID: "a", Weight: 0}}},
		{ID: "i", Params: []float32{0}, SelfWeight: 1, Optimizer: opt, Schedule: ConstantLR{1}, DataWeight: -1},
	}
	for i, c := range bad {
		if _, err := NewNode(c); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}

// quadraticMesh drives nodes in lock step on f_i(x) = ½(x − c_i)² with the
// given neighbor lists (uniform weights over self and neighbors) and returns
// the nodes after all rounds.
func quadraticMesh(t *testing.T, targets []float64, adj [][]int, order MixOrder, rounds int, weights []float64) []*Node {
	t.Helper()
	n := len(targets)
	id := func(i int) PeerID { return PeerID(rune('a' + i)) }
	nodes := make([]*Node, n)
	for i := range n {
		w := 1 / float64(len(adj[i])+1)
		var nb []Neighbor
		for _, j := range adj[i] {
			nb = append(nb, Neighbor{ID: id(j), Weight: w})
		}
		dw := 1.0
		if weights != nil {
			dw = weights[i]
		}
		var err error
		nodes[i], err = NewNode(NodeConfig{ID: id(i), Params: []float32{0}, SelfWeight: w, Neighbors: nb,
			Optimizer: OptimizerConfig{Kind: "sgd"}.New(1), Schedule: CosineLR{Base: 0.2, Total: rounds},
			Rounds: rounds, Order: order, DataWeight: dw})
		must(t, err)
		nodes[i].Start()
	}
	for r := 0; r < rounds; r++ {
		var outbox []Message
		for i, nd := range nodes {
			rd := nd.Ready()
			outbox = append(outbox, rd.Messages...)
			if rd.Gradient == nil {
				t.Fatalf("node %d round %d: no step", i, r)
			}
			x := float64(rd.Gradient.Params[0])
			must(t, nd.GradientDone(r, []float32{float32(x - targets[i])}, 0))
			outbox = append(outbox, nd.Ready().Messages...) // adapt-then-combine sends after the step
		}
		for _, m := range outbox {
			must(t, nodes[int(m.To[0]-'a')].Receive(m))
		}
	}
	return nodes
}

func ringAdjacency(n int) [][]int {
	adj := make([][]int, n)
	for i := range n {
		adj[i] = []int{(i + n - 1) % n, (i + 1) % n}
	}
	return adj
}

// TestNodesReachConsensusOnQuadratic: D-PSGD with a decaying rate must bring
// every node close to the global optimum mean(c_i), which no node could find
// alone, in either order of step and mixing.
func TestNodesReachConsensusOnQuadratic(t *testing.T) {
	targets := []float64{-7, 3, 10, 0, 4, -2, 8, 0}
	for _, order := range []MixOrder{CombineThenAdapt, AdaptThenCombine} {
		for i, nd := range quadraticMesh(t, targets, ringAdjacency(len(targets)), order, 400, nil) {
			if !nd.Done() {
				t.Fatalf("order %d: node %d not done", order, i)
			}
			if x := float64(nd.Params()[0]); math.Abs(x-2) > 0.05 {
				t.Errorf("order %d: node %d ended at %g, the global optimum is 2", order, i, x)
			}
		}
	}
}

// TestAdaptThenCombineOnCompleteGraphIsCentralizedSGD: with uniform mixing
// over everyone, every node must hold exactly the iterate of gradient descent
// on the mean loss, and data weights must move the optimum to the weighted
// mean: the loss over all samples.
func TestAdaptThenCombineOnCompleteGraphIsCentralizedSGD(t *testing.T) {
	targets := []float64{-4, 1, 6, 9}
	weights := []float64{0.4, 1.2, 1.6, 0.8} // sample shares n_i/n̄, mean 1
	adj := [][]int{{1, 2, 3}, {0, 2, 3}, {0, 1, 3}, {0, 1, 2}}
	const rounds = 50
	nodes := quadraticMesh(t, targets, adj, AdaptThenCombine, rounds, weights)
	x, lr := 0.0, CosineLR{Base: 0.2, Total: rounds}
	for r := range rounds {
		var g float64
		for i, c := range targets {
			g += weights[i] * (x - c) / float64(len(targets))
		}
		x -= lr.LR(r) * g
	}
	for i, nd := range nodes {
		if got := float64(nd.Params()[0]); math.Abs(got-x) > 1e-5 {
			t.Errorf("node %d at %g, centralized gradient descent at %g", i, got, x)
		}
	}
}

func TestAdaptThenCombineSendsTheSteppedModel(t *testing.T) {
	n, err := NewNode(NodeConfig{ID: "i", Params: []float32{10}, SelfWeight: 0.5, Neighbors: []Neighbor{{ID: "a", Weight: 0.5}},
		Optimizer: OptimizerConfig{Kind: "sgd"}.New(1), Schedule: ConstantLR{Base: 0.5}, Order: AdaptThenCombine, DataWeight: 2})
	must(t, err)
	n.Start()
	if rd := n.Ready(); len(rd.Messages) != 0 || rd.Gradient == nil {
		t.Fatalf("adapt-then-combine sent before stepping: %+v", rd)
	}
	must(t, n.Receive(Message{From: "a", Round: 0, Params: []float32{0}}))
	must(t, n.GradientDone(0, []float32{3}, 0))
	rd := n.Ready()
	// Stepped model: 10 − (0.5 rate × 2 data weight)·3 = 7; mixed with a's 0.
	if len(rd.Messages) != 1 || rd.Messages[0].Params[0] != 7 {
		t.Fatalf("sent %+v, want the stepped model 7", rd.Messages)
	}
	if len(rd.Rounds) != 1 || rd.Rounds[0].Params[0] != 3.5 || rd.Rounds[0].LR != 1 {
		t.Fatalf("round result %+v, want x = 3.5 at rate 1", rd.Rounds)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// unsyncedNode is a node whose shell cannot switch both ends of a link at
// one round (a live peer), at round 0 with near neighbor "a".
func unsyncedNode(t *testing.T, awaiting ...PeerID) *Node {
	t.Helper()
	n, err := NewNode(NodeConfig{ID: "i", Params: []float32{10}, SelfWeight: 0.5, Neighbors: []Neighbor{{ID: "a", Weight: 0.5}},
		Optimizer: OptimizerConfig{Kind: "sgd"}.New(1), Schedule: ConstantLR{Base: 0.5}, UnsyncedLinks: true, Awaiting: awaiting})
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	n.Ready()
	return n
}

// finish runs the node's round with a zero gradient and the given near
// vectors, and returns its result (nil if the round did not end).
func finish(t *testing.T, n *Node, vectors map[PeerID]float32) *RoundResult {
	t.Helper()
	r := n.Round()
	for id, v := range vectors {
		must(t, n.Receive(Message{From: id, Round: r, Params: []float32{v}}))
	}
	must(t, n.GradientDone(r, []float32{0}, 0))
	if rd := n.Ready(); len(rd.Rounds) == 1 {
		return &rd.Rounds[0]
	}
	return nil
}

// TestNodeDoesNotWaitForANewLinkUntilItsFirstVector: with UnsyncedLinks, a
// near neighbor that joins while the node runs may have sent the vectors
// of the rounds before the link existed; no round waits for it until a
// vector from it comes (even a stale one), it is mixed when its vector is
// in, and from then on every round waits for it.
func TestNodeDoesNotWaitForANewLinkUntilItsFirstVector(t *testing.T) {
	n := unsyncedNode(t)
	must(t, n.SetNeighbors(1.0/3, []Neighbor{{ID: "a", Weight: 1.0 / 3}, {ID: "b", Weight: 1.0 / 3}}))
	if r := finish(t, n, map[PeerID]float32{"a": 4}); r == nil || r.Params[0] != 0.5*10+0.5*4 {
		t.Fatalf("round 0 (before the change): %+v", r)
	}
	if r := finish(t, n, map[PeerID]float32{"a": 4}); r == nil || r.Expected != 1 || math.Abs(float64(r.Params[0])-6) > 1e-5 {
		t.Fatalf("round 1: waits for new neighbor b before anything came from it: %+v", r)
	}
	if near, _ := n.Missing(); len(near) != 1 || near[0] != "a" {
		t.Fatalf("round 2 misses %v, want only a (b has sent nothing)", near)
	}
	if r := finish(t, n, map[PeerID]float32{"a": 1, "b": 7}); r == nil || r.Expected != 2 || r.Arrived != 2 || math.Abs(float64(r.Params[0])-14.0/3) > 1e-5 {
		t.Fatalf("round 2: b's vector in, want it mixed: %+v", r)
	}
	if r := finish(t, n, map[PeerID]float32{"a": 1}); r != nil {
		t.Fatalf("round 3 ended without b, which has sent a vector: %+v", r)
	}
	// A stale vector also shows that the link carries b's vectors.
	n = unsyncedNode(t)
	must(t, n.SetNeighbors(1.0/3, []Neighbor{{ID: "a", Weight: 1.0 / 3}, {ID: "b", Weight: 1.0 / 3}}))
	finish(t, n, map[PeerID]float32{"a": 4})
	if err := n.Receive(Message{From: "b", Round: 0, Params: []float32{7}}); !errors.Is(err, ErrStaleRound) {
		t.Fatalf("b's round-0 vector in round 1: %v, want ErrStaleRound", err)
	}
	if r := finish(t, n, map[PeerID]float32{"a": 4}); r != nil {
		t.Fatalf("round 1 ended without b after a stale vector from it: %+v", r)
	}
}

// TestNodeWaitsForEveryNeighborOfAFixedMesh: without UnsyncedLinks (the
// simulator switches both ends of a link at one round), a new neighbor
// counts from the round the set takes effect.
func TestNodeWaitsForEveryNeighborOfAFixedMesh(t *testing.T) {
	n := newTestNode(t, "i", []float32{10}, 0.5, []Neighbor{{ID: "a", Weight: 0.5}}, 0)
	n.Start()
	n.Ready()
	must(t, n.SetNeighbors(1.0/3, []Neighbor{{ID: "a", Weight: 1.0 / 3}, {ID: "b", Weight: 1.0 / 3}}))
	finish(t, n, map[PeerID]float32{"a": 4})
	if r := finish(t, n, map[PeerID]float32{"a": 4}); r != nil {
		t.Fatalf("round 1 ended without new neighbor b: %+v", r)
	}
}

// TestNodeDoesNotWaitForAnAwaitedNeighbor: a neighbor of the first set
// that the shell knows to be past the start round is not waited for until
// a vector from it comes.
func TestNodeDoesNotWaitForAnAwaitedNeighbor(t *testing.T) {
	n := unsyncedNode(t, "a")
	if r := finish(t, n, nil); r == nil || r.Params[0] != 10 || r.Expected != 0 {
		t.Fatalf("round 0 waits for a, which was past it: %+v", r)
	}
	if r := finish(t, n, map[PeerID]float32{"a": 2}); r == nil || r.Params[0] != 6 {
		t.Fatalf("round 1 with a's vector: %+v, want it mixed", r)
	}
	if r := finish(t, n, nil); r != nil {
		t.Fatalf("round 2 ended without a, which has sent a vector: %+v", r)
	}
}

// TestNodeEndsARoundWhoseMissingVectorWasLost: Lost ends the wait for a
// neighbor's vector of the round in progress (its weight stays with the
// node), for that round only; Lost for another round changes nothing.
func TestNodeEndsARoundWhoseMissingVectorWasLost(t *testing.T) {
	n := newTestNode(t, "i", []float32{10}, 0.5, []Neighbor{{ID: "a", Weight: 0.25}, {ID: "b", Weight: 0.25}}, 0)
	n.Start()
	n.Ready()
	if r := finish(t, n, map[PeerID]float32{"a": 2}); r != nil {
		t.Fatal("round 0 ended without b")
	}
	n.Lost(1, "b")
	if rd := n.Ready(); len(rd.Rounds) != 0 {
		t.Fatal("Lost for round 1 ended round 0")
	}
	n.Lost(0, "b")
	rd := n.Ready()
	if len(rd.Rounds) != 1 || rd.Rounds[0].Params[0] != 0.75*10+0.25*2 {
		t.Fatalf("after Lost(0, b): %+v, want round 0 mixed without b", rd.Rounds)
	}
	if r := finish(t, n, map[PeerID]float32{"a": 2}); r != nil {
		t.Fatal("round 1 ended without b: Lost must hold for its round only")
	}
}
