package gossip

import (
	"context"
	"time"

	"github.com/gradmesh/gradmesh/training"
)

// compute runs the peer's local steps and evaluations, one at a time, on
// a goroutine of its own, so the event loop keeps receiving and mixing
// while a step runs.
type compute struct {
	jobs      chan func()
	gradients chan gradientResult
	evaluated chan evalResult
}

type gradientResult struct {
	round int
	grad  []float32
	loss  float64
}

type evalResult struct {
	round int
	eval  training.Evaluation
}

func newCompute() compute {
	return compute{jobs: make(chan func(), 4), gradients: make(chan gradientResult, 1), evaluated: make(chan evalResult, 4)}
}

// run carries out jobs until ctx ends.
func (c *compute) run(ctx context.Context) {
	for {
		select {
		case job := <-c.jobs:
			job()
		case <-ctx.Done():
			return
		}
	}
}

// computeGradient computes the gradient of round at params on the compute
// goroutine; the result comes back on gradients.
func (p *Peer) computeGradient(ctx context.Context, round int, params []float32) {
	job := func() {
		grad := make([]float32, len(params))
		start := time.Now()
		loss := p.cfg.Gradient(params, grad)
		p.stats.noteCompute(time.Since(start))
		select {
		case p.compute.gradients <- gradientResult{round: round, grad: grad, loss: loss}:
		case <-ctx.Done():
		}
	}
	select {
	case p.compute.jobs <- job:
	case <-ctx.Done():
	}
}

// evaluateLater scores params, the model after round, when the compute
// goroutine is free; it skips the evaluation rather than delay training
// when it is not, since a newer one will follow.
func (p *Peer) evaluateLater(round int, params []float32) {
	job := func() {
		ev := p.cfg.Evaluate(params)
		select {
		case p.compute.evaluated <- evalResult{round: round, eval: ev}:
		default: // a newer evaluation will follow
		}
	}
	select {
	case p.compute.jobs <- job:
	default:
	}
}

// evaluateNow scores the current model on the compute goroutine, the only
// one that may call Evaluate (a periodic evaluation may still be running).
func (p *Peer) evaluateNow(ctx context.Context) training.Evaluation {
	if p.cfg.Evaluate == nil {
		return training.Evaluation{}
	}
	params := p.node.Params()
	done := make(chan training.Evaluation, 1)
	select {
	case p.compute.jobs <- func() { done <- p.cfg.Evaluate(params) }:
	case <-ctx.Done():
		return training.Evaluation{}
	}
	select {
	case ev := <-done:
		return ev
	case <-ctx.Done():
		return training.Evaluation{}
	}
}
