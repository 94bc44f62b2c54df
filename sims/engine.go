package sims

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/training"
)

// simPeer is the simulator's shell around one training.Node.
type simPeer struct {
	id    int
	node  *training.Node
	steps *training.Stepper // the peer's minibatches from its shard

	// Written by the worker that ran the peer's step, read by the event loop
	// after <-stepped; a peer has at most one step in flight.
	grad    []float32
	loss    float64
	stepped chan struct{}

	pacer     *training.Pacer         // nil: rounds wait for every vector
	deadline  uint64                  // generation of the armed deadline; older deadline events are void
	seen      map[training.PeerID]int // furthest round each sender's messages showed; kept only for the pacer
	deadlines int                     // rounds ended by deadline
}

// evalPoint gathers every peer's model after k rounds, then scores them.
type evalPoint struct {
	k         int
	params    [][]float32
	have      int
	reachedAt float64 // virtual time the last peer completed round k
	scores    []training.Evaluation
	lossSum   float64 // training minibatch losses of the rounds since the previous point
	lossN     int
	bytes     float64 // bytes sent during those rounds, all peers
}

type job func(m training.Model, scratch *training.Minibatch)

// simulation is one run of an experiment: the peers, the event queue, the
// network's queues and the evaluation points, all driven by one goroutine;
// gradients and evaluations run on a pool of workers.
type simulation struct {
	e        *Experiment
	peers    []*simPeer
	jobs     chan<- job
	evals    sync.WaitGroup
	q        eventQueue
	links    *linkQueues
	points   []int // completed-round counts at which peers are scored
	ordered  []*evalPoint
	msgBytes int
	finished int // peer-rounds done, over all peers
	lost     int // messages whose round had ended by deadline, or was beyond the receiver's window
	mob      MobilityStats
}

// epoch anchors virtual time for the pacers: virtual second s is epoch + s.
var epoch = time.Unix(0, 0)

func virtualTime(seconds float64) time.Time {
	return epoch.Add(time.Duration(seconds * float64(time.Second)))
}

// OneThreadPerProduct reports whether Run caps the BLAS at one thread per
// matrix product. With several peers it does: the worker pool runs their
// steps side by side, rather than pool × BLAS threads fighting over the
// cores. One peer (the centralized baseline) gets all of the library's
// threads for each product. The choice depends on the experiment, never on
// Workers: OpenBLAS's sums, hence the results, change with its thread
// count.
func (e *Experiment) OneThreadPerProduct() bool { return e.peers() > 1 }

// Run simulates the experiment to its last round and returns its records.
// The result depends only on the experiment and its seed, not on the number
// of workers or the machine's timing.
func (e *Experiment) Run(ctx context.Context) (*Result, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	if err := e.Network.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	if e.OneThreadPerProduct() {
		defer nn.LimitThreads(1)()
	}
	workers := e.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Each worker computes one peer's step at a time. With fewer peers than
	// workers (a centralized run has one) the idle cores go to the layers
	// of the steps there are; results do not depend on it.
	defer nn.SetParallelism(nn.SetParallelism(runtime.GOMAXPROCS(0) / min(workers, e.peers())))
	jobs := make(chan job, e.peers()+16)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, s := e.Model.Clone(), &training.Minibatch{}
			for j := range jobs {
				j(m, s)
			}
		}()
	}
	defer func() { close(jobs); wg.Wait() }()

	peers, err := e.newPeers()
	if err != nil {
		return nil, err
	}
	s := &simulation{e: e, peers: peers, jobs: jobs, links: newLinkQueues(e.Network), points: e.evalPoints(), msgBytes: e.MessageBytes()}
	for _, k := range s.points {
		s.ordered = append(s.ordered, &evalPoint{k: k, params: make([][]float32, len(peers))})
	}
	now, err := s.run(ctx)
	if err != nil {
		return nil, err
	}
	s.evals.Wait()
	res := e.summarize(s.ordered, now)
	for _, p := range peers {
		res.DeadlineRounds += p.deadlines
	}
	res.LostMessages = s.lost
	if e.Mobility != nil {
		res.Mobility = &s.mob
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// run processes events until none is left and returns the virtual time of
// the last one that did something.
func (s *simulation) run(ctx context.Context) (float64, error) {
	e := s.e
	for i := range s.peers {
		s.record(i, 0, e.Init, 0)
	}
	for _, p := range s.peers {
		p.node.Start()
		s.handle(p, 0)
	}
	if e.Mobility != nil {
		s.q.schedule(event{at: e.Mobility.Every, kind: evMobility})
	}
	var now float64
	for steps := 0; s.q.Len() > 0; steps++ {
		if steps%4096 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		ev := s.q.next()
		if ev.kind == evDeadline && ev.deadline != s.peers[ev.peer].deadline {
			continue // the round it bounded has ended: void, and no time passes
		}
		now = ev.at
		if err := s.dispatch(ev, now); err != nil {
			return 0, err
		}
	}
	if total := len(s.peers) * e.Rounds; s.finished != total {
		return 0, fmt.Errorf("sims: simulation stalled after %d of %d peer-rounds", s.finished, total)
	}
	return now, nil
}

// dispatch hands one event to its peer's node and carries out what the
// node asks for in return.
func (s *simulation) dispatch(ev event, now float64) error {
	if ev.kind == evMobility {
		if s.finished == len(s.peers)*s.e.Rounds {
			return nil
		}
		if err := s.e.move(s.peers, now, &s.mob); err != nil {
			return err
		}
		s.q.schedule(event{at: now + s.e.Mobility.Every, kind: evMobility})
		return nil
	}
	p := s.peers[ev.peer]
	switch ev.kind {
	case evGradientDone:
		<-p.stepped
		if err := p.node.GradientDone(p.node.Round(), p.grad, p.loss); err != nil {
			return err
		}
	case evArrive:
		// Events pop in time order, so the downlink serves arrivals first come first served.
		ev.at, ev.kind = s.links.receive(p.id, s.msgBytes, now), evDeliver
		s.q.schedule(ev)
		return nil
	case evDeliver:
		if err := s.deliver(p, ev.msg); err != nil {
			return err
		}
	case evDeadline:
		s.expire(p, ev, now)
	}
	s.handle(p, now)
	return nil
}

// deliver hands a neighbor's message to p's node. A message the node
// refuses because its round ended by deadline or lies beyond its window,
// or because a re-plan dropped its sender, is lost, as it would be on a
// live mesh; any other refusal is a bug. What the message shows of its
// sender's round is kept for the pacer, as a live peer keeps the rounds of
// the shards it accepts.
func (s *simulation) deliver(p *simPeer, msg msgEvent) error {
	from := peerName(msg.from)
	err := p.node.Receive(training.Message{From: from, To: peerName(p.id), Round: msg.round, Params: msg.params})
	if p.pacer != nil && (err == nil || errors.Is(err, training.ErrStaleRound)) {
		p.seen[from] = max(p.seen[from], msg.round)
	}
	switch {
	case err == nil:
	case p.pacer != nil && (errors.Is(err, training.ErrStaleRound) || errors.Is(err, training.ErrFutureRound)):
		s.lost++
	case s.e.Mobility != nil && (errors.Is(err, training.ErrNotNeighbor) || errors.Is(err, training.ErrStaleRound)):
		s.mob.Dropped++
	default:
		return fmt.Errorf("sims: peer %d refused a message: %w", p.id, err)
	}
	return nil
}

// expire is p's deadline for the round it bounded: the pacer says whether
// the round waits on for neighbors that are behind, or ends now with what
// arrived.
func (s *simulation) expire(p *simPeer, ev event, now float64) {
	round := p.node.Round()
	near, long := p.node.Missing()
	known := func(id training.PeerID) int { return p.seen[id] }
	if wait := p.pacer.Expire(virtualTime(now), round, near, long, known); wait > 0 {
		ev.at = now + wait.Seconds()
		s.q.schedule(ev)
		return
	}
	p.deadlines++
	p.node.Deadline(round)
}

// handle carries out what p's node asked for after an event at time now.
func (s *simulation) handle(p *simPeer, now float64) {
	e := s.e
	rd := p.node.Ready()
	if len(rd.Messages) > 0 {
		b := s.bucket(rd.Messages[0].Round + 1)
		for _, m := range rd.Messages {
			to := peerIndex(m.To)
			kind := evDeliver
			if s.links.queuesAtDownlink(to) {
				kind = evArrive
			}
			s.q.schedule(event{at: s.links.send(p.id, to, s.msgBytes, now), peer: to, kind: kind,
				msg: msgEvent{from: p.id, round: m.Round, params: m.Params}})
			b.bytes += float64(s.msgBytes)
		}
	}
	if p.pacer != nil && len(rd.Rounds) > 0 {
		p.deadline++ // void: the round it bounded is over
		for range rd.Rounds {
			p.pacer.Finish(virtualTime(now))
		}
	}
	if rd.Gradient != nil {
		params, round := rd.Gradient.Params, rd.Gradient.Round
		s.jobs <- func(m training.Model, sc *training.Minibatch) { p.computeGradient(m, sc, params) }
		s.q.schedule(event{at: now + e.computeSeconds(p.id, round), peer: p.id, kind: evGradientDone})
		if p.pacer != nil {
			p.deadline++
			timeout := p.pacer.Begin(virtualTime(now))
			s.q.schedule(event{at: now + timeout.Seconds(), peer: p.id, kind: evDeadline, deadline: p.deadline})
		}
	}
	for _, r := range rd.Rounds {
		b := s.bucket(r.Round + 1)
		b.lossSum += r.Loss
		b.lossN++
		s.record(p.id, r.Round+1, r.Params, now)
		s.finished++
		if e.Observe != nil {
			e.Observe(p.id, r, now)
		}
	}
	if len(rd.Rounds) > 0 && e.Progress != nil {
		e.Progress(s.finished, len(s.peers)*e.Rounds)
	}
}

// bucket is the first evaluation point at or after completed-round count k.
func (s *simulation) bucket(k int) *evalPoint {
	return s.ordered[sort.SearchInts(s.points, k)]
}

// record keeps peer i's model after k rounds when k is an evaluation
// point, and scores the point once every peer is in.
func (s *simulation) record(i, k int, params []float32, at float64) {
	j := sort.SearchInts(s.points, k)
	if j == len(s.points) || s.points[j] != k {
		return
	}
	p := s.ordered[j]
	p.params[i] = params
	p.have++
	p.reachedAt = max(p.reachedAt, at)
	if p.have == len(s.peers) {
		s.score(p)
	}
}

// score evaluates every peer's model of a point on the workers.
func (s *simulation) score(p *evalPoint) {
	set := s.e.EvalTest
	if p.k == s.e.Rounds {
		set = s.e.Test
	}
	n := len(s.peers)
	p.scores = make([]training.Evaluation, n)
	s.evals.Add(n)
	for i := range n {
		s.jobs <- func(m training.Model, _ *training.Minibatch) {
			defer s.evals.Done()
			p.scores[i] = training.Evaluate(m, p.params[i], set)
		}
	}
}

func (e *Experiment) newPeers() ([]*simPeer, error) {
	n := e.peers()
	peers := make([]*simPeer, n)
	total := 0
	for _, d := range e.Train {
		total += d.Len()
	}
	for i := range n {
		weight := 1.0
		if e.Weighting == WeightBySamples {
			weight = training.DataWeight(e.Train[i].Len(), n, total)
		}
		var nb []training.Neighbor
		self := 1.0
		if e.Algo == "dpsgd" {
			self, nb = neighborsOf(i, e.Graph, e.Mixing, e.Long)
		}
		agg, err := training.ParseAggregator(cmp.Or(e.Aggregate, training.DefaultAggregator))
		if err != nil {
			return nil, err
		}
		node, err := training.NewNode(training.NodeConfig{
			ID: peerName(i), Params: e.Init, SelfWeight: self, Neighbors: nb,
			Optimizer: e.Optimizer.New(len(e.Init)), Schedule: e.Schedule, Rounds: e.Rounds, DataWeight: weight,
			Order: e.Order, LongPeriod: e.LongPeriod, Aggregator: agg,
		})
		if err != nil {
			return nil, err
		}
		peers[i] = &simPeer{id: i, node: node, steps: training.NewStepper(e.Train[i], e.Batch, training.PeerBatchRand(e.Seed, i)),
			grad: make([]float32, len(e.Init)), stepped: make(chan struct{}, 1)}
		if e.Pacing != nil {
			cfg := *e.Pacing
			cfg.LongPeriod = e.LongPeriod
			peers[i].pacer, peers[i].seen = training.NewPacer(cfg), map[training.PeerID]int{}
		}
	}
	return peers, nil
}

// computeGradient runs on a worker: draw the peer's next minibatch and compute
// the gradient at params with the worker's model.
func (p *simPeer) computeGradient(m training.Model, s *training.Minibatch, params []float32) {
	p.loss = p.steps.Gradient(m, params, p.grad, s)
	p.stepped <- struct{}{}
}

// Peers are named by index; the names only have to be unique and ordered.
func peerName(i int) training.PeerID { return training.PeerID(strconv.Itoa(i)) }

func peerIndex(id training.PeerID) int {
	i, _ := strconv.Atoi(string(id))
	return i
}
