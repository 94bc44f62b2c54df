package gossip

import (
	"cmp"
	"slices"
	"sort"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/wire"
)

// maxRound bounds the rounds members claim, before any arithmetic on them:
// far beyond any run, so that a hostile heartbeat cannot overflow an int.
const maxRound = wire.MaxModelRound

// memberTable is what the peer knows of the run's members: the latest
// heartbeat of each, and the latest round of a shard each sent. A member
// without a heartbeat is still a member (the transport lists it); it
// counts for no round and proposes no link until it announces itself.
type memberTable struct {
	heard     map[peer.ID]*heardBeat
	sentRound map[peer.ID]uint64
}

// heardBeat is a checked heartbeat, its author, and what the neighbor
// planner reads of it, converted once on arrival.
type heardBeat struct {
	from peer.ID
	wire.Heartbeat
	announcement topology.Announcement // the author's proposals, by peer ID string
	coord        topology.Coord
}

func newMemberTable() memberTable {
	return memberTable{heard: map[peer.ID]*heardBeat{}, sentRound: map[peer.ID]uint64{}}
}

// note records a member's heartbeat and returns it as the planner reads it.
func (m *memberTable) note(from peer.ID, hb *wire.Heartbeat) *heardBeat {
	h := &heardBeat{from: from, Heartbeat: *hb, coord: hb.Coord.Coord(),
		announcement: topology.Announcement{From: from.String(), Proposals: make([]topology.Link, 0, len(hb.Proposals)),
			UplinkBitsPerSec: 1000 * float64(hb.UplinkKbps)}}
	for _, pr := range hb.Proposals {
		h.announcement.Proposals = append(h.announcement.Proposals, topology.Link{ID: pr.ID.String(), Long: pr.Long, Slow: pr.Slow, RTT: pr.RTT})
	}
	m.heard[from] = h
	return h
}

// noteShard records that from sent a shard of round.
func (m *memberTable) noteShard(from peer.ID, round uint64) {
	m.sentRound[from] = max(m.sentRound[from], round)
}

// forget drops a member that left: its heartbeat no longer counts toward
// the mesh's round.
func (m *memberTable) forget(id peer.ID) {
	delete(m.heard, id)
	delete(m.sentRound, id)
}

// seenRound is the furthest round anything shows id at: its latest
// heartbeat, or a shard it sent.
func (m *memberTable) seenRound(id peer.ID) uint64 {
	at := m.sentRound[id]
	if hb, ok := m.heard[id]; ok {
		at = max(at, hb.Round)
	}
	return at
}

// meshRound is the median latest round heard from the given peers (all
// members when nil). The median keeps one peer that lies about its round
// from dragging the others along.
func (m *memberTable) meshRound(among []peer.ID) int {
	var rounds []int
	for id, hb := range m.heard {
		if among == nil || slices.Contains(among, id) {
			rounds = append(rounds, int(min(hb.Round, maxRound)))
		}
	}
	if len(rounds) == 0 {
		return 0
	}
	sort.Ints(rounds)
	return rounds[len(rounds)/2]
}

// ahead lists up to three members at or past round, most advanced first.
func (m *memberTable) ahead(round int) []peer.ID {
	var ids []peer.ID
	for id, hb := range m.heard {
		if int(min(hb.Round, maxRound)) >= round {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b peer.ID) int {
		return cmp.Compare(min(m.heard[b].Round, maxRound), min(m.heard[a].Round, maxRound))
	})
	return ids[:min(3, len(ids))]
}
