package gossip

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/training"
)

// catchUpLag is how far the mesh may be ahead of a peer before it stops
// mixing its way back and adopts the mesh's model instead: half the window,
// so that its neighbors' vectors are still inside it when it arrives.
const catchUpLag = training.DefaultWindow / 2

// noteHeartbeat catches up when the peer's neighbors have moved more than
// catchUpLag rounds ahead of it.
func (p *Peer) noteHeartbeat(ctx context.Context, hb *heardBeat) {
	nbs := make([]peer.ID, 0, len(p.neighbors.links))
	for _, l := range p.neighbors.links {
		nbs = append(nbs, l.id)
	}
	ahead := p.members.meshRound(nbs)
	if ahead <= p.node.Round()+catchUpLag || ahead >= p.cfg.Learning.Rounds {
		return
	}
	r, params, err := p.fetchModel(ctx, p.members.ahead(ahead))
	if err != nil {
		p.log.Warn("fell behind the mesh and could not catch up", "round", p.node.Round(), "mesh", ahead, "err", err)
		return
	}
	if r <= p.node.Round() || r >= p.cfg.Learning.Rounds {
		return
	}
	p.log.Info("caught up with the mesh", "from", p.node.Round(), "to", r)
	if err := p.resetNode(r, params); err != nil {
		p.log.Warn("catch-up failed", "err", err)
		return
	}
	p.node.Start()
}

// fetchModel asks up to three peers for their model and returns the
// coordinate-wise median (the mean of two, or the one) and the median of
// their rounds: a single lying or broken peer cannot choose the model a
// late joiner starts from.
func (p *Peer) fetchModel(ctx context.Context, from []peer.ID) (int, []float32, error) {
	var models [][]float32
	var rounds []int
	var errs []error
	for _, id := range from {
		r, m, err := p.net.FetchModel(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		rounds = append(rounds, int(r))
		models = append(models, m)
	}
	if len(models) == 0 {
		return 0, nil, fmt.Errorf("gossip: no peer served its model: %w", errors.Join(errs...))
	}
	sort.Ints(rounds)
	return rounds[len(rounds)/2], medianVector(models), nil
}

func medianVector(models [][]float32) []float32 {
	out := slices.Clone(models[0])
	if len(models) == 1 {
		return out
	}
	col := make([]float32, len(models))
	for i := range out {
		for k, m := range models {
			col[k] = m[i]
		}
		slices.Sort(col)
		if len(col)%2 == 1 {
			out[i] = col[len(col)/2]
		} else {
			out[i] = (col[len(col)/2-1] + col[len(col)/2]) / 2
		}
	}
	return out
}
