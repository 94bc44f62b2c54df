package sims

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

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

type job func(m training.Model, scratch *scratch)

// scratch is a worker's storage for the minibatches it draws, whichever
// peer it steps.
type scratch = training.Minibatch

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
	n := e.peers()
	workers := e.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan job, n+16)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, s := e.Model.Clone(), &scratch{}
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
	points := e.evalPoints()
	pointAt := map[int]*evalPoint{}
	ordered := make([]*evalPoint, len(points))
	for i, k := range points {
		ordered[i] = &evalPoint{k: k, params: make([][]float32, n)}
		pointAt[k] = ordered[i]
	}
	// bucket maps a completed-round count to the first evaluation point at or after it.
	bucket := func(k int) *evalPoint {
		i := sort.SearchInts(points, k)
		return ordered[i]
	}
	var evals sync.WaitGroup
	scorePoint := func(p *evalPoint) {
		set := e.EvalTest
		if p.k == e.Rounds {
			set = e.Test
		}
		p.scores = make([]training.Evaluation, n)
		evals.Add(n)
		for i := range n {
			jobs <- func(m training.Model, _ *scratch) {
				defer evals.Done()
				p.scores[i] = training.Evaluate(m, p.params[i], set)
			}
		}
	}
	record := func(i, k int, params []float32, at float64) {
		p := pointAt[k]
		if p == nil {
			return
		}
		p.params[i] = params
		p.have++
		p.reachedAt = max(p.reachedAt, at)
		if p.have == n {
			scorePoint(p)
		}
	}
	for i := range peers {
		record(i, 0, e.Init, 0)
	}

	msgBytes := e.messageBytes()
	stepSeconds := e.Model.TrainFLOPs() * float64(e.Batch) / e.PeerFLOPS
	var q eventQueue
	var mob MobilityStats
	links := newLinkQueues(e.Network)
	finished, total := 0, n*e.Rounds
	// handle carries out what a node asked for after an event at time now.
	handle := func(p *simPeer, now float64) {
		rd := p.node.Ready()
		if len(rd.Messages) > 0 {
			b := bucket(rd.Messages[0].Round + 1)
			for _, m := range rd.Messages {
				to := peerIndex(m.To)
				kind := evDeliver
				if links.queuesAtDownlink(to) {
					kind = evArrive
				}
				q.schedule(event{at: links.send(p.id, to, msgBytes, now), peer: to, kind: kind,
					msg: msgEvent{from: p.id, round: m.Round, params: m.Params}})
				b.bytes += float64(msgBytes)
			}
		}
		if rd.Step != nil {
			params := rd.Step.Params
			jobs <- func(m training.Model, s *scratch) { p.computeStep(m, s, params) }
			q.schedule(event{at: now + stepSeconds, peer: p.id, kind: evStepDone})
		}
		for _, r := range rd.Rounds {
			b := bucket(r.Round + 1)
			b.lossSum += r.Loss
			b.lossN++
			record(p.id, r.Round+1, r.Params, now)
			finished++
		}
		if len(rd.Rounds) > 0 && e.Progress != nil {
			e.Progress(finished, total)
		}
	}

	for _, p := range peers {
		p.node.Start()
		handle(p, 0)
	}
	if e.Mobility != nil {
		q.schedule(event{at: e.Mobility.Every, kind: evMobility})
	}
	var now float64
	for steps := 0; q.Len() > 0; steps++ {
		if steps%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ev := q.next()
		now = ev.at
		if ev.kind == evMobility {
			if finished == total {
				continue
			}
			if err := e.move(peers, now, &mob); err != nil {
				return nil, err
			}
			q.schedule(event{at: now + e.Mobility.Every, kind: evMobility})
			continue
		}
		p := peers[ev.peer]
		switch ev.kind {
		case evStepDone:
			<-p.stepped
			if err := p.node.StepDone(p.node.Round(), p.grad, p.loss); err != nil {
				return nil, err
			}
		case evArrive:
			// Events pop in time order, so the downlink serves arrivals first come first served.
			ev.at, ev.kind = links.receive(p.id, msgBytes, now), evDeliver
			q.schedule(ev)
			continue
		case evDeliver:
			m := training.Message{From: peerName(ev.msg.from), To: peerName(p.id), Round: ev.msg.round, Params: ev.msg.params}
			if err := p.node.Receive(m); err != nil {
				// Across a re-plan a message may reach a peer that has
				// already dropped its sender, or closed the exchange it
				// belonged to: lost, as it would be on a live mesh.
				if e.Mobility == nil || !(errors.Is(err, training.ErrNotNeighbor) || errors.Is(err, training.ErrStaleRound)) {
					return nil, fmt.Errorf("sims: peer %d refused a message: %w", p.id, err)
				}
				mob.Dropped++
			}
		}
		handle(p, now)
	}
	if finished != total {
		return nil, fmt.Errorf("sims: simulation stalled after %d of %d peer-rounds", finished, total)
	}
	evals.Wait()
	res := e.summarize(ordered, now)
	if e.Mobility != nil {
		res.Mobility = &mob
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
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
		node, err := training.NewNode(training.NodeConfig{
			ID: peerName(i), Params: e.Init, SelfWeight: self, Neighbors: nb,
			Optimizer: e.Optimizer.New(len(e.Init)), Schedule: e.Schedule, Rounds: e.Rounds, DataWeight: weight,
			Order: e.Order, LongPeriod: e.LongPeriod,
		})
		if err != nil {
			return nil, err
		}
		peers[i] = &simPeer{id: i, node: node, steps: training.NewStepper(e.Train[i], e.Batch, training.PeerBatchRand(e.Seed, i)),
			grad: make([]float32, len(e.Init)), stepped: make(chan struct{}, 1)}
	}
	return peers, nil
}

// computeStep runs on a worker: draw the peer's next minibatch and compute
// the gradient at params with the worker's model.
func (p *simPeer) computeStep(m training.Model, s *scratch, params []float32) {
	p.loss = p.steps.Step(m, params, p.grad, s)
	p.stepped <- struct{}{}
}

// Peers are named by index; the names only have to be unique and ordered.
func peerName(i int) training.PeerID { return training.PeerID(strconv.Itoa(i)) }

func peerIndex(id training.PeerID) int {
	i, _ := strconv.Atoi(string(id))
	return i
}
