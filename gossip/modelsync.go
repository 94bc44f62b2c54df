package gossip

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ModelProtocol serves a peer's current model to peers that join late or
// fall behind: request = run id [16] + model fingerprint [16]; response =
// round u64, shard count u32, then that many (length u32, shard) frames in
// the wire format. Little-endian throughout.
const ModelProtocol = protocol.ID("/gradmesh/model/1.0.0")

const syncTimeout = 20 * time.Second

// ServeModel answers model requests for this peer's run until the host closes.
func (p *Peer) ServeModel() {
	p.cfg.Host.SetStreamHandler(ModelProtocol, func(s network.Stream) {
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(syncTimeout))
		var req [32]byte
		if _, err := io.ReadFull(s, req[:]); err != nil || [16]byte(req[:16]) != p.run || [16]byte(req[16:]) != p.model {
			_ = s.Reset()
			return
		}
		params := *p.current.Load()
		round := p.round.Load()
		tmpl := Shard{RunID: p.run, Model: p.model, Round: round, DataWeight: 1, Encoding: EncodingFloat32}
		shards := Split(tmpl, params, ShardValues(p.cfg.ShardBytes))
		w := bufio.NewWriter(s)
		var hdr [12]byte
		binary.LittleEndian.PutUint64(hdr[:8], round)
		binary.LittleEndian.PutUint32(hdr[8:], uint32(len(shards)))
		_, _ = w.Write(hdr[:])
		for i := range shards {
			b, err := AppendShard(nil, &shards[i])
			if err != nil {
				_ = s.Reset()
				return
			}
			binary.LittleEndian.PutUint32(hdr[:4], uint32(len(b)))
			_, _ = w.Write(hdr[:4])
			_, _ = w.Write(b)
		}
		_ = w.Flush()
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
	if _, err := s.Write(append(p.run[:], p.model[:]...)); err != nil {
		return 0, nil, err
	}
	r := bufio.NewReader(s)
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	round := binary.LittleEndian.Uint64(hdr[:8])
	count := binary.LittleEndian.Uint32(hdr[8:])
	total := len(p.cfg.Init)
	if round >= 1<<40 || count == 0 || int(count) > total {
		return 0, nil, fmt.Errorf("%w: model response claims round %d in %d shards", ErrMalformed, round, count)
	}
	asm := NewAssembler(total, 1, 1)
	expect := Expect{RunID: p.run, Model: p.model, Total: total, Window: 0}
	for range count {
		if _, err := io.ReadFull(r, hdr[:4]); err != nil {
			return 0, nil, err
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n > MaxMessageBytes {
			return 0, nil, fmt.Errorf("%w: model shard of %d bytes", ErrOversize, n)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return 0, nil, err
		}
		sh, err := DecodeShard(buf)
		if err != nil {
			return 0, nil, err
		}
		if err := expect.Check(sh, round); err != nil {
			return 0, nil, err
		}
		if _, err := asm.Add(id.String(), sh); err != nil {
			return 0, nil, err
		}
	}
	vec, got, of, ok := asm.Take(id.String(), round, make([]float32, total))
	if !ok || got != of {
		return 0, nil, fmt.Errorf("%w: model response incomplete (%d of %d shards)", ErrMalformed, got, of)
	}
	return int(round), vec, nil
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
