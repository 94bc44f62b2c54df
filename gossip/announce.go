package gossip

import (
	"context"

	"github.com/gradmesh/gradmesh/wire"
)

// announce publishes this peer's heartbeat to the run: its round, data
// weight, throughput, device, coordinate, uplink, active degree and the
// links it proposes.
func (p *Peer) announce(ctx context.Context) {
	round := uint64(0)
	if p.node != nil {
		round = uint64(p.node.Round())
	}
	n := &p.neighbors
	hb := wire.Heartbeat{RunID: p.run, Model: p.model, Round: round, Degree: uint16(min(len(n.links), wire.MaxHeartbeatDegree)),
		DataWeight: float32(p.cfg.Learning.DataWeight), SamplesPerSec: float32(p.samplesPerSec()), Device: p.device(),
		Coord: wire.CoordOf(n.vivaldi.Coord()), UplinkKbps: wire.UplinkKbps(p.cfg.UplinkBitsPerSec)}
	for _, l := range n.proposals {
		if id, ok := n.idOf[l.ID]; ok && len(hb.Proposals) < wire.MaxProposals {
			hb.Proposals = append(hb.Proposals, wire.Proposal{ID: id, Long: l.Long, Slow: l.Slow, RTT: l.RTT})
		}
	}
	b, err := hb.Marshal()
	if err != nil {
		p.log.Error("cannot encode a heartbeat", "err", err)
		return
	}
	if err := p.net.Announce(ctx, b); err != nil {
		p.log.Debug("heartbeat not sent", "err", err)
	}
}
