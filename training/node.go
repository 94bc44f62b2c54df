package training

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas/gonum"
)

// PeerID names a peer to the algorithm. Shells map it to their own
// addressing: an index in the simulator, a libp2p peer ID on the live mesh.
type PeerID string

// Neighbor is a peer this node mixes with, and its weight in the node's row
// of the mixing matrix W.
type Neighbor struct {
	ID     PeerID
	Weight float64
	// Long marks a long-range link: mixed asynchronously every LongPeriod
	// rounds instead of every round, so its latency does not pace the
	// node's rounds (see longlinks.go).
	Long bool
}

// Message carries a peer's parameters for one round to one neighbor.
// Params is an immutable snapshot: neither the node nor the receiver may
// write to it, so shells can share it instead of copying.
type Message struct {
	From, To PeerID
	Round    int
	Params   []float32
	// Spans, when not nil, are the only coordinates of Params that arrived
	// (sorted, disjoint): a near neighbor's vector cut short by a
	// deadline. The Aggregator decides what the others count as.
	Spans []Span
}

// GradientRequest asks the shell to compute the local gradient of round Round at
// Params (read-only) on one minibatch of the peer's own data, and to report
// it with GradientDone. Where and how it runs (CPU, GPU, worker pool) is the
// shell's business.
type GradientRequest struct {
	Round  int
	Params []float32
}

// RoundResult reports a finished round. Params is the node's new model
// (immutable, as in Message).
type RoundResult struct {
	Round    int       // the round that finished
	Params   []float32 // x after the round
	Loss     float64   // training loss of the round's minibatch
	Arrived  int       // near neighbors whose parameters were mixed in
	Expected int       // near neighbors the round waited for
	// LongMixed counts long-link exchanges whose correction this round applied.
	LongMixed int
	LR        float64 // learning rate applied (the schedule's rate × DataWeight)
	// ByDeadline says the round ended at its deadline rather than with
	// every vector it waited for whole: the shell's Deadline ended it, or it
	// mixed a vector cut short by one.
	ByDeadline bool
}

// Ready is the work a node hands its shell: send these messages, run this
// step, note these finished rounds.
type Ready struct {
	Messages []Message
	Gradient *GradientRequest // set exactly when a round starts: arm its deadline then
	Rounds   []RoundResult
	Done     bool // the node finished its last round
}

// Errors returned by Receive for messages that must not be mixed in.
var (
	ErrNotNeighbor = errors.New("training: message from a peer that is not a neighbor")
	ErrStaleRound  = errors.New("training: message for a round already finished")
	ErrFutureRound = errors.New("training: message for a round beyond the window")
	ErrDuplicate   = errors.New("training: second message from a peer for one round")
	ErrShape       = errors.New("training: parameter vector of the wrong length")
	ErrOffCadence  = errors.New("training: long-link message for a round without an exchange")
)

// NodeConfig sets up a Node.
type NodeConfig struct {
	ID         PeerID
	Params     []float32 // initial model x₀; the node keeps its own copy
	SelfWeight float64   // W_ii
	Neighbors  []Neighbor
	Optimizer  Optimizer
	Schedule   Schedule
	Rounds     int // the node is Done after this many rounds; 0 runs forever
	// StartRound is the round the node begins at: 0 for a fresh run, the
	// mesh's round for a peer that joins late and adopted its neighbors' model.
	StartRound int
	// DataWeight is the peer's share of the training data relative to the
	// mean peer, n_i / n̄ (0 means 1). It scales the peer's learning rate so
	// the mesh's average step follows the gradient of the loss over all
	// samples rather than the unweighted mean of per-peer losses: without it a
	// peer holding 50 samples pulls as hard as one holding 10,000, which on
	// skewed (non-IID) splits costs accuracy even with perfect mixing.
	DataWeight float64
	// Window is how many rounds ahead of its own a node buffers neighbors'
	// messages (default DefaultWindow). Bounds memory against fast or
	// hostile peers.
	Window int
	// Order is when the local step is applied relative to mixing.
	Order MixOrder
	// Aggregator combines the node's vector with its neighbors' (default
	// Mean). It is the node's own: it may keep state across rounds.
	Aggregator Aggregator
	// LongPeriod is the number of rounds between exchanges over a long link
	// (default 4; the shells pass topology's choice, 2). A long exchange started in round r must have arrived by
	// the end of round r+LongPeriod, so long links pace the node only when
	// their latency exceeds LongPeriod rounds of near-link work.
	LongPeriod int
	// UnsyncedLinks says the shell cannot make both ends of a new link
	// switch at the same round (a live peer adopts a link when a heartbeat
	// shows both ends accept it, and its neighbor a heartbeat apart), so a
	// new neighbor's first vectors may have gone out before they could
	// reach this node. A near neighbor that joins the set while the node
	// runs is then not waited for until a vector from it arrives, for any
	// round; till then its vector is mixed when it is in, and its weight
	// stays with the node when not. Without this, a round would wait out its
	// deadline for a vector that was sent before the link existed, and the
	// two ends would fall out of step.
	UnsyncedLinks bool
	// Awaiting lists near neighbors of the first set that the node does not
	// wait for until a vector from them arrives, as for UnsyncedLinks: those
	// the shell knows to be past StartRound already, whose vector for it
	// went out before this node could receive it.
	Awaiting []PeerID
}

// MixOrder is the order of the two halves of a D-PSGD round.
type MixOrder uint8

const (
	// CombineThenAdapt (Lian et al. 2017) sends x_r at the start of the round
	// and applies the step after mixing:
	//   x_{r+1} = Σ_j W_ij·x_j,r − η·opt(∇f_i(x_r)).
	// Computing and communicating overlap, so a round costs
	// max(compute, network).
	CombineThenAdapt MixOrder = iota
	// AdaptThenCombine takes the local step first and mixes the results:
	//   x_{r+1} = Σ_j W_ij·(x_j,r − η·opt(∇f_j(x_j,r))).
	// A round costs compute + network, but every gradient is evaluated at a
	// mixed model, which keeps peers with skewed (non-IID) data from drifting
	// toward their own optimum; on a complete graph it is exactly centralized
	// minibatch SGD.
	AdaptThenCombine
)

// Node is one peer's decentralized SGD (D-PSGD, Lian et al. 2017) as a state
// machine with no I/O and no clock. Round r, in the default order:
//
//	x_{r+1} = W_ii·x_r + Σ_j W_ij·x_j,r − η_r·opt(∇f_i(x_r))
//
// The node sends x_r to its neighbors and asks for the gradient at x_r at the
// same moment, so computing and communicating overlap (AdaptThenCombine
// instead steps first and sends the stepped model). The round ends when the
// gradient and every neighbor's vector are in, or when the shell calls
// Deadline; weights of neighbors that did not arrive go to the node itself, so
// each row of W still sums to one. There is no barrier and no leader: a node
// only ever waits for its own neighbors.
//
// Events are the methods Start, GradientDone, Receive, Deadline and
// SetNeighbors; Ready collects what the shell must do next. A Node is not
// safe for concurrent use: one shell goroutine drives it.
type Node struct {
	cfg       NodeConfig
	neighbors []Neighbor // sorted by ID so mixing order, and so float sums, are deterministic
	self      float64
	pending   *[]Neighbor // neighbor set taking effect at round pendFrom
	pendSelf  float64
	pendFrom  int
	// awaiting holds the near neighbors that joined while the node ran
	// (UnsyncedLinks), or that NodeConfig.Awaiting named, and have sent
	// nothing yet: no round waits for them.
	awaiting map[PeerID]bool
	lost     map[PeerID]bool // near neighbors whose vector for the round in progress will not come
	long     longLinks

	round      int
	x          []float32 // x_r
	stepped    []float32 // adapt-then-combine: x_r after the local step, published to neighbors
	grad       []float32
	loss       float64
	gradientIn bool
	deadline   bool
	inbox      map[int]map[PeerID]Arrival // near neighbors' vectors by round; Weight is set when mixed
	started    bool
	done       bool

	ready Ready
}

// NewNode checks the configuration and returns a node at round 0.
func NewNode(cfg NodeConfig) (*Node, error) {
	if len(cfg.Params) == 0 {
		return nil, fmt.Errorf("training: node %s: empty parameter vector", cfg.ID)
	}
	if cfg.Optimizer == nil || cfg.Schedule == nil {
		return nil, fmt.Errorf("training: node %s: optimizer and schedule are required", cfg.ID)
	}
	if cfg.Rounds < 0 || cfg.StartRound < 0 || (cfg.Rounds > 0 && cfg.StartRound >= cfg.Rounds) {
		return nil, fmt.Errorf("training: node %s: start at round %d of %d, want 0 ≤ start < rounds", cfg.ID, cfg.StartRound, cfg.Rounds)
	}
	if cfg.LongPeriod == 0 {
		cfg.LongPeriod = defaultLongPeriod
	}
	if cfg.LongPeriod < 1 {
		return nil, fmt.Errorf("training: node %s: long-link period %d, want ≥ 1 round", cfg.ID, cfg.LongPeriod)
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	// A long neighbor runs at most 2·LongPeriod rounds ahead: it closes
	// exchange r in round r+LongPeriod, and this node sends its half of r
	// no earlier than round r. Buffer that far.
	cfg.Window = max(cfg.Window, 2*cfg.LongPeriod)
	if cfg.DataWeight == 0 {
		cfg.DataWeight = 1
	}
	if !(cfg.DataWeight > 0) || math.IsInf(cfg.DataWeight, 0) {
		return nil, fmt.Errorf("training: node %s: data weight %g, want a finite value > 0", cfg.ID, cfg.DataWeight)
	}
	n := &Node{cfg: cfg, round: cfg.StartRound, x: slices.Clone(cfg.Params), grad: make([]float32, len(cfg.Params)),
		inbox: map[int]map[PeerID]Arrival{}, awaiting: map[PeerID]bool{}, lost: map[PeerID]bool{},
		long: newLongLinks()}
	if n.cfg.Aggregator == nil {
		n.cfg.Aggregator = Mean{}
	}
	if err := n.setNeighbors(cfg.SelfWeight, cfg.Neighbors); err != nil {
		return nil, err
	}
	for _, id := range cfg.Awaiting {
		if nb, ok := find(n.neighbors, id); ok && !nb.Long {
			n.awaiting[id] = true
		}
	}
	n.long.joined(n.neighbors, cfg.StartRound)
	return n, nil
}

func (n *Node) setNeighbors(self float64, nb []Neighbor) error {
	sum := self
	seen := map[PeerID]bool{}
	for _, v := range nb {
		if v.ID == n.cfg.ID || seen[v.ID] {
			return fmt.Errorf("training: node %s: neighbor %s listed twice or is the node itself", n.cfg.ID, v.ID)
		}
		if !(v.Weight > 0) {
			return fmt.Errorf("training: node %s: neighbor %s has weight %g, want > 0", n.cfg.ID, v.ID, v.Weight)
		}
		seen[v.ID] = true
		sum += v.Weight
	}
	if self < 0 || sum < 1-1e-6 || sum > 1+1e-6 {
		return fmt.Errorf("training: node %s: mixing weights sum to %g with self weight %g, want 1", n.cfg.ID, sum, self)
	}
	n.self = self
	n.neighbors = slices.SortedFunc(slices.Values(nb), func(a, b Neighbor) int {
		return cmp.Compare(a.ID, b.ID)
	})
	return nil
}

// Round is the round in progress.
func (n *Node) Round() int { return n.round }

// Params is the current model x_r (read-only).
func (n *Node) Params() []float32 { return n.x }

// Neighbors returns the current neighbor set with weights.
func (n *Node) Neighbors() []Neighbor { return slices.Clone(n.neighbors) }

// Done reports whether the node has finished its last round.
func (n *Node) Done() bool { return n.done }

// Start begins round 0.
func (n *Node) Start() {
	if n.started {
		return
	}
	n.started = true
	n.beginRound()
}

// SetNeighbors replaces the neighbor set from the next round on; the round in
// progress keeps waiting for the set it started with.
func (n *Node) SetNeighbors(self float64, nb []Neighbor) error {
	return n.SetNeighborsFrom(n.round+1, self, nb)
}

// SetNeighborsFrom replaces the neighbor set from round from on (the next
// round if from is not in the future). Shells that can make both ends of a
// link switch at the same round, like the simulator, use it so no round
// waits for a peer that has already moved on; a later call replaces a
// pending set that has not taken effect.
func (n *Node) SetNeighborsFrom(from int, self float64, nb []Neighbor) error {
	saved, savedSelf := n.neighbors, n.self
	if err := n.setNeighbors(self, nb); err != nil {
		return err
	}
	next := n.neighbors
	n.neighbors, n.self = saved, savedSelf
	n.pending, n.pendSelf, n.pendFrom = &next, self, max(from, n.round+1)
	if n.cfg.UnsyncedLinks {
		for _, v := range next {
			if was, ok := find(n.neighbors, v.ID); !v.Long && (!ok || was.Long) {
				n.awaiting[v.ID] = true
			}
		}
	}
	return nil
}

// GradientDone delivers the gradient of round round (the node copies it).
func (n *Node) GradientDone(round int, grad []float32, loss float64) error {
	if round != n.round || n.gradientIn || n.done {
		return fmt.Errorf("training: node %s: gradient for round %d while in round %d", n.cfg.ID, round, n.round)
	}
	if len(grad) != len(n.x) {
		return fmt.Errorf("training: node %s: gradient of length %d, want %d: %w", n.cfg.ID, len(grad), len(n.x), ErrShape)
	}
	copy(n.grad, grad)
	n.loss = loss
	n.gradientIn = true
	if n.cfg.Order == AdaptThenCombine {
		n.stepped = slices.Clone(n.x)
		n.cfg.Optimizer.Step(n.stepped, n.grad, n.lr())
		n.send(n.stepped)
	}
	n.maybeFinishRound()
	return nil
}

// Receive takes a neighbor's parameters. The node keeps m.Params (immutable by
// contract). Messages it must not mix in are refused with an error wrapping
// one of the Err* values, and leave the node unchanged.
func (n *Node) Receive(m Message) error {
	if len(m.Params) != len(n.x) && !n.done { // near and long alike
		return fmt.Errorf("%w: %d values from %s, want %d", ErrShape, len(m.Params), m.From, len(n.x))
	}
	if err := checkSpans(m.Spans, len(m.Params)); err != nil {
		return fmt.Errorf("%w: from %s: %v", ErrShape, m.From, err)
	}
	if nb, ok := n.neighborFor(m.From, m.Round); ok && nb.Long {
		if m.Spans != nil {
			return fmt.Errorf("%w: a partial long-link vector from %s: an exchange is mixed whole or not at all", ErrShape, m.From)
		}
		if err := n.receiveLong(m); err != nil {
			return err
		}
		n.maybeFinishRound()
		return nil
	}
	return n.receiveNear(m)
}

// neighborFor finds the neighbor entry that governs a message from id for
// round: the pending set's for rounds it will cover.
func (n *Node) neighborFor(id PeerID, round int) (Neighbor, bool) {
	if n.pending != nil && round >= n.pendFrom {
		if nb, ok := find(*n.pending, id); ok {
			return nb, true
		}
	}
	return find(n.neighbors, id)
}

func find(set []Neighbor, id PeerID) (Neighbor, bool) {
	i, found := slices.BinarySearchFunc(set, id, func(v Neighbor, id PeerID) int { return cmp.Compare(v.ID, id) })
	if !found {
		return Neighbor{}, false
	}
	return set[i], true
}

// lr is the rate of the round in progress, weighted by the peer's data share.
func (n *Node) lr() float64 { return n.cfg.Schedule.LR(n.round) * n.cfg.DataWeight }

// receiveNear buffers a near neighbor's vector for its round.
func (n *Node) receiveNear(m Message) error {
	// Any vector, even a stale one, shows that the new link carries this
	// neighbor's vectors: the rounds from now on wait for it.
	delete(n.awaiting, m.From)
	switch {
	case n.done || m.Round < n.round:
		return fmt.Errorf("%w: round %d from %s, node %s is in round %d", ErrStaleRound, m.Round, m.From, n.cfg.ID, n.round)
	case m.Round > n.round+n.cfg.Window:
		return fmt.Errorf("%w: round %d from %s, node %s is in round %d (window %d)", ErrFutureRound, m.Round, m.From, n.cfg.ID, n.round, n.cfg.Window)
	case !n.acceptsFrom(m.From, m.Round):
		return fmt.Errorf("%w: %s is not a neighbor of %s", ErrNotNeighbor, m.From, n.cfg.ID)
	}
	box := n.inbox[m.Round]
	if box == nil {
		box = map[PeerID]Arrival{}
		n.inbox[m.Round] = box
	}
	if _, dup := box[m.From]; dup {
		return fmt.Errorf("%w: %s, round %d", ErrDuplicate, m.From, m.Round)
	}
	box[m.From] = Arrival{From: m.From, Params: m.Params, Spans: m.Spans}
	if m.Round == n.round {
		n.maybeFinishRound()
	}
	return nil
}

// acceptsFrom: in the current round only the round's neighbor set counts;
// future rounds may already use a pending set.
func (n *Node) acceptsFrom(id PeerID, round int) bool {
	if _, ok := find(n.neighbors, id); ok {
		return true
	}
	if n.pending == nil || round < n.pendFrom {
		return false
	}
	_, ok := find(*n.pending, id)
	return ok
}

// Deadline ends round round with whatever has arrived once its step is done.
// A deadline for another round is ignored (it fired late).
func (n *Node) Deadline(round int) {
	if round != n.round || n.done || !n.started {
		return
	}
	n.deadline = true
	n.maybeFinishRound()
}

// Lost tells the node that near neighbor id's vector for round will not
// come: a shell that receives a neighbor's messages in the order they were
// sent, and has one from a later round, knows that the rest of this
// round's vector was lost. The round then ends without
// it (its weight stays with the node) as soon as the others are in,
// instead of waiting out a deadline. Lost for another round than the one
// in progress is ignored.
func (n *Node) Lost(round int, id PeerID) {
	if nb, ok := find(n.neighbors, id); !ok || nb.Long || n.done || round != n.round {
		return
	}
	if _, in := n.inbox[n.round][id]; in {
		return
	}
	n.lost[id] = true
	n.maybeFinishRound()
}

// Ready returns the work accumulated since the last call and clears it.
func (n *Node) Ready() Ready {
	r := n.ready
	n.ready = Ready{}
	return r
}

func (n *Node) beginRound() {
	if n.cfg.Order == CombineThenAdapt {
		n.send(n.x)
	}
	n.ready.Gradient = &GradientRequest{Round: n.round, Params: n.x}
}

// send hands params to the near neighbors, then, on a round that starts a
// long exchange, to the long ones: a round waits for the near vectors, so
// they go first on a shared uplink (a live peer publishes its near topic
// before its long one).
func (n *Node) send(params []float32) {
	// An exchange must close by the last round, or one side could apply it
	// and the other never.
	closes := n.cfg.Rounds == 0 || n.round+n.cfg.LongPeriod < n.cfg.Rounds
	exchange := closes && n.long.startsExchange(n.round, n.cfg.LongPeriod, params)
	for _, long := range []bool{false, true} {
		for _, v := range n.neighbors {
			if v.Long == long && (!long || exchange) {
				n.ready.Messages = append(n.ready.Messages, Message{From: n.cfg.ID, To: v.ID, Round: n.round, Params: params})
			}
		}
	}
}

func (n *Node) maybeFinishRound() {
	if !n.gradientIn {
		return
	}
	box := n.inbox[n.round]
	near := n.nearCount()
	if !n.deadline && (n.waitsNear() || !n.long.dueArrived(n.round, n.cfg.LongPeriod, n.neighbors)) {
		return
	}
	// Mix into a fresh vector: x_r was handed out as an immutable snapshot.
	own, lr := n.x, n.lr()
	if n.cfg.Order == AdaptThenCombine {
		own = n.stepped
	}
	next := make([]float32, len(n.x))
	self := n.self
	var in []Arrival
	byDeadline := n.deadline
	for _, v := range n.neighbors {
		if v.Long { // mixed by correction below
			self += v.Weight
			continue
		}
		if a, ok := box[v.ID]; ok {
			a.Weight = v.Weight
			in = append(in, a)
			byDeadline = byDeadline || a.Spans != nil
		} else {
			self += v.Weight
		}
	}
	n.cfg.Aggregator.Mix(next, own, self, in)
	arrived := len(in)
	longMixed := n.long.applyArrived(n.round, n.cfg.LongPeriod, n.neighbors, next, n.cfg.Aggregator)
	if n.cfg.Order == CombineThenAdapt {
		n.cfg.Optimizer.Step(next, n.grad, lr)
	}

	n.ready.Rounds = append(n.ready.Rounds, RoundResult{Round: n.round, Params: next, Loss: n.loss,
		Arrived: arrived, Expected: near, LongMixed: longMixed, LR: lr, ByDeadline: byDeadline})
	delete(n.inbox, n.round)
	n.x, n.stepped = next, nil
	n.round++
	n.gradientIn, n.deadline = false, false
	clear(n.lost)
	if n.pending != nil && n.round >= n.pendFrom {
		n.neighbors, n.self, n.pending = *n.pending, n.pendSelf, nil
		for id := range n.awaiting {
			if nb, ok := find(n.neighbors, id); !ok || nb.Long {
				delete(n.awaiting, id)
			}
		}
		n.dropInboxFromStrangers()
		n.long.joined(n.neighbors, n.round)
	}
	if n.cfg.Rounds > 0 && n.round >= n.cfg.Rounds {
		n.done = true
		n.ready.Done = true
		clear(n.inbox)
		n.long.clear()
		return
	}
	n.beginRound()
}

// dropInboxFromStrangers forgets buffered messages from peers that are no
// longer neighbors after a change of neighbor set.
func (n *Node) dropInboxFromStrangers() {
	for _, box := range n.inbox {
		for id := range box {
			if nb, ok := find(n.neighbors, id); !ok || nb.Long {
				delete(box, id)
			}
		}
	}
}

// nearCount is how many near vectors the round in progress waits for.
func (n *Node) nearCount() int {
	c := 0
	for _, v := range n.neighbors {
		if n.waitsFor(v) {
			c++
		}
	}
	return c
}

// waitsFor reports whether the round in progress waits for v's near
// vector, arrived or not.
func (n *Node) waitsFor(v Neighbor) bool {
	return !v.Long && !n.awaiting[v.ID] && !n.lost[v.ID]
}

// waitsNear reports whether a near vector the round waits for is missing.
func (n *Node) waitsNear() bool {
	box := n.inbox[n.round]
	for _, v := range n.neighbors {
		if _, in := box[v.ID]; !in && n.waitsFor(v) {
			return true
		}
	}
	return false
}

// axpy adds a·x to y.
func axpy(a float32, x, y []float32) {
	// gonum's SIMD kernel, three times the plain loop's speed on a model's
	// vector: mixing runs on the simulator's event loop, one peer after
	// another. The same multiply, then add, per element: the same bits.
	gonum.Implementation{}.Saxpy(len(x), a, x, 1, y[:len(x)], 1)
}

// Missing lists what the round in progress still waits for: near
// neighbors whose vector has not arrived, and long neighbors whose half of
// the exchange this round must close has not. For logs, when a round ends
// by deadline.
func (n *Node) Missing() (near, long []PeerID) {
	box := n.inbox[n.round]
	for _, v := range n.neighbors {
		if _, in := box[v.ID]; !in && n.waitsFor(v) {
			near = append(near, v.ID)
		}
	}
	return near, n.long.dueMissing(n.round, n.cfg.LongPeriod, n.neighbors)
}
