package gossip

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gradmesh/gradmesh/wire"
)

// ModelProtocol carries the model-sync exchange (wire.WriteModel) that
// serves a peer's current model to peers that join late or fall behind.
const ModelProtocol = protocol.ID("/gradmesh/model/1.0.0")

const syncTimeout = 20 * time.Second

// ServeModel answers model requests for this peer's run until the host closes.
func (p *Peer) ServeModel() {
	p.cfg.Host.SetStreamHandler(ModelProtocol, func(s network.Stream) {
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(syncTimeout))
		if ok, err := wire.ReadModelRequest(s, p.run, p.model); err != nil || !ok {
			_ = s.Reset()
			return
		}
		tmpl := wire.Shard{RunID: p.run, Model: p.model, Round: p.round.Load(), DataWeight: 1, Encoding: wire.EncodingFloat32}
		if err := wire.WriteModel(s, tmpl, *p.current.Load(), p.cfg.ShardBytes); err != nil {
			_ = s.Reset()
		}
	})
}

// fetchModel asks up to three peers for their model and returns the
// coordinate-wise median (the mean of two, or the one): a single lying or
// broken peer cannot choose the model a late joiner starts from.
func (p *Peer) fetchModel(ctx context.Context, from []peer.ID) (int, []float32, error) {
	var models [][]float32
	var rounds []int
	var errs []error
	for _, id := range from {
		r, m, err := p.fetchFrom(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		rounds = append(rounds, r)
		models = append(models, m)
	}
	if len(models) == 0 {
		return 0, nil, fmt.Errorf("gossip: no peer served its model: %w", errors.Join(errs...))
	}
	sort.Ints(rounds)
	return rounds[len(rounds)/2], medianVector(models), nil
}

func (p *Peer) fetchFrom(ctx context.Context, id peer.ID) (int, []float32, error) {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	s, err := p.cfg.Host.NewStream(ctx, id, ModelProtocol)
	if err != nil {
		return 0, nil, err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(syncTimeout))
	if _, err := s.Write(wire.AppendModelRequest(nil, p.run, p.model)); err != nil {
		return 0, nil, err
	}
	round, vec, err := wire.ReadModel(s, wire.Expect{RunID: p.run, Model: p.model, Total: len(p.cfg.Init)})
	return int(round), vec, err
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
