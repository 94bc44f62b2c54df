package gossip

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/p2p"
	"github.com/gradmesh/gradmesh/topology"
)

// probeTimeout bounds one RTT probe; the ping fallback takes at most 2 s.
const probeTimeout = 3 * time.Second

// rttTable keeps a smoothed RTT per peer. The peer's event loop writes it;
// the status server reads it, hence the lock.
type rttTable struct {
	mu    sync.Mutex
	peers map[peer.ID]*peerRTT
}

type peerRTT struct {
	filter topology.RTTFilter
	source p2p.RTTSource
}

// PeerRTT is what a peer knows of its round-trip time to another.
type PeerRTT struct {
	Smoothed time.Duration // filtered estimate (topology.RTTFilter)
	Last     time.Duration // latest sample
	Source   p2p.RTTSource // where the latest sample came from
	Samples  int
}

// note feeds one sample to id's filter. A sample the filter refuses (not a
// positive duration under 10 s) is dropped and reported.
func (t *rttTable) note(id peer.ID, s p2p.RTTSample) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.peers == nil {
		t.peers = map[peer.ID]*peerRTT{}
	}
	pr := t.peers[id]
	if pr == nil {
		pr = &peerRTT{}
	}
	if _, err := pr.filter.Add(s.RTT); err != nil {
		return err
	}
	pr.source = s.Source
	t.peers[id] = pr
	return nil
}

// smoothed is id's filtered RTT, 0 when never measured.
func (t *rttTable) smoothed(id peer.ID) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pr := t.peers[id]; pr != nil {
		return pr.filter.Smoothed()
	}
	return 0
}

func (t *rttTable) get(id peer.ID) (PeerRTT, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.getLocked(id)
}

func (t *rttTable) getLocked(id peer.ID) (PeerRTT, bool) {
	pr := t.peers[id]
	if pr == nil {
		return PeerRTT{}, false
	}
	return PeerRTT{Smoothed: pr.filter.Smoothed(), Last: pr.filter.Last(), Source: pr.source, Samples: pr.filter.Samples()}, true
}

// ids lists the measured peers, sorted.
func (t *rttTable) ids() []peer.ID {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]peer.ID, 0, len(t.peers))
	for id := range t.peers {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (t *rttTable) forget(id peer.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.peers, id)
}

// measured is one finished probe, handed back to the event loop.
type measured struct {
	id     peer.ID
	sample p2p.RTTSample
	err    error
}

// probe measures the RTT to each of ids that has no probe in flight, each in
// its own goroutine (a ping can take seconds), and hands the results to the
// event loop through neighborhood.measured. Without an RTT function it does nothing.
func (p *Peer) probe(ctx context.Context, ids []peer.ID) {
	if p.cfg.RTT == nil {
		return
	}
	for _, id := range ids {
		if id == p.self || p.neighbors.probing[id] {
			continue
		}
		p.neighbors.probing[id] = true
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			s, err := p.cfg.RTT(pctx, id)
			cancel()
			select {
			case p.neighbors.measured <- measured{id: id, sample: s, err: err}:
			case <-ctx.Done():
			}
		}()
	}
}

// noteMeasured records a finished probe.
func (p *Peer) noteMeasured(m measured) {
	delete(p.neighbors.probing, m.id)
	if m.err != nil {
		p.log.Debug("RTT probe failed", "peer", m.id, "err", m.err)
		return
	}
	if err := p.neighbors.rtt.note(m.id, m.sample); err != nil {
		p.log.Debug("RTT sample dropped", "peer", m.id, "source", m.sample.Source, "err", err)
		return
	}
	p.updateCoordinate(m.id, m.sample.RTT)
}
