package gossip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/wire"
)

// MemNetwork is a run's network inside one process, for tests: every
// member reaches every other unless the link between them is cut. Delivery
// is immediate and in order, through the same encoding and checks as on a
// live mesh; a receiver whose inbound queue is full drops what arrives, as
// a gossipsub peer does. Under testing/synctest, peers on a MemNetwork run
// on virtual time.
type MemNetwork struct {
	mu    sync.Mutex
	peers map[peer.ID]*MemTransport
	cut   map[[2]peer.ID]bool
}

// NewMemNetwork returns an empty network.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{peers: map[peer.ID]*MemTransport{}, cut: map[[2]peer.ID]bool{}}
}

// Join returns the transport of peer id on the network.
func (n *MemNetwork) Join(id peer.ID) *MemTransport {
	t := &MemTransport{net: n, self: id, follows: map[following]bool{},
		heartbeats: make(chan Inbound, heartbeatQueue), shards: make(chan Inbound, shardQueue)}
	n.mu.Lock()
	n.peers[id] = t
	n.mu.Unlock()
	return t
}

// Cut stops all traffic between a and b, both ways, as a partition does;
// Heal restores it.
func (n *MemNetwork) Cut(a, b peer.ID) {
	n.mu.Lock()
	n.cut[pairOf(a, b)] = true
	n.mu.Unlock()
}

// Heal undoes Cut.
func (n *MemNetwork) Heal(a, b peer.ID) {
	n.mu.Lock()
	delete(n.cut, pairOf(a, b))
	n.mu.Unlock()
}

func pairOf(a, b peer.ID) [2]peer.ID {
	if a > b {
		a, b = b, a
	}
	return [2]peer.ID{a, b}
}

// reaching lists the open transports other than from that from reaches;
// the caller holds n.mu.
func (n *MemNetwork) reaching(from peer.ID) []*MemTransport {
	var out []*MemTransport
	for id, t := range n.peers {
		if id != from && t.open && !n.cut[pairOf(from, id)] {
			out = append(out, t)
		}
	}
	return out
}

// MemTransport is one peer's Transport on a MemNetwork.
type MemTransport struct {
	net                *MemNetwork
	self               peer.ID
	heartbeats, shards chan Inbound
	// Guarded by net.mu:
	session Session
	open    bool
	follows map[following]bool // channels of other peers this one follows
}

// Self implements Transport.
func (t *MemTransport) Self() peer.ID { return t.self }

// Open implements Transport.
func (t *MemTransport) Open(s Session) error {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	t.session, t.open = s, true
	return nil
}

// Members implements Transport.
func (t *MemTransport) Members() []peer.ID {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	if !t.open {
		return nil
	}
	var ids []peer.ID
	for _, o := range t.net.reaching(t.self) {
		ids = append(ids, o.self)
	}
	return ids
}

// Announce implements Transport.
func (t *MemTransport) Announce(_ context.Context, heartbeat []byte) error {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	for _, o := range t.net.reaching(t.self) {
		if hb, err := o.session.Checks.Heartbeat(t.self, heartbeat); err == nil {
			offer(o.heartbeats, Inbound{From: t.self, Heartbeat: hb, Bytes: len(heartbeat)})
		}
	}
	return nil
}

// Publish implements Transport.
func (t *MemTransport) Publish(_ context.Context, ch Channel, shard []byte) (int, error) {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	copies := 0
	for _, o := range t.net.reaching(t.self) {
		if !o.follows[following{t.self, ch}] {
			continue
		}
		copies++
		if s, err := o.session.Checks.Shard(t.self, t.self, ch, shard); err == nil {
			offer(o.shards, Inbound{From: t.self, Channel: ch, Shard: s, Bytes: len(shard)})
		}
	}
	return copies, nil
}

// offer queues a message for a peer, or drops it when the queue is full.
func offer(queue chan<- Inbound, in Inbound) {
	select {
	case queue <- in:
	default:
	}
}

// Followers implements Transport.
func (t *MemTransport) Followers(ch Channel) int {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	n := 0
	for _, o := range t.net.reaching(t.self) {
		if o.follows[following{t.self, ch}] {
			n++
		}
	}
	return n
}

// Follow implements Transport.
func (t *MemTransport) Follow(id peer.ID, ch Channel) error {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	t.follows[following{id, ch}] = true
	return nil
}

// Unfollow implements Transport.
func (t *MemTransport) Unfollow(id peer.ID, ch Channel) {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	delete(t.follows, following{id, ch})
}

// Release implements Transport; a MemNetwork keeps no connections.
func (t *MemTransport) Release(peer.ID) {}

// Heartbeats implements Transport.
func (t *MemTransport) Heartbeats() <-chan Inbound { return t.heartbeats }

// Shards implements Transport.
func (t *MemTransport) Shards() <-chan Inbound { return t.shards }

// Addrs implements Transport: none.
func (t *MemTransport) Addrs() []string { return nil }

// Close implements Transport: the peer leaves the network's members and
// stops answering model requests.
func (t *MemTransport) Close() error {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	t.open = false
	clear(t.follows)
	return nil
}

// FetchModel implements Transport: id's model goes through the model-sync
// encoding and checks, as it would over a stream.
func (t *MemTransport) FetchModel(_ context.Context, id peer.ID) (uint64, []float32, error) {
	t.net.mu.Lock()
	o := t.net.peers[id]
	reachable := o != nil && o.open && t.open && !t.net.cut[pairOf(t.self, id)]
	var s Session
	if reachable {
		s = o.session
	}
	t.net.mu.Unlock()
	if !reachable {
		return 0, nil, fmt.Errorf("gossip: %s is not reachable on the network", id)
	}
	if s.Run != t.session.Run || s.Model != t.session.Model {
		return 0, nil, errors.New("gossip: model request refused: another run or model")
	}
	var stream bytes.Buffer
	round, params := s.Current()
	tmpl := wire.Shard{RunID: s.Run, Model: s.Model, Round: round, DataWeight: 1, Encoding: wire.EncodingFloat32}
	if err := wire.WriteModel(&stream, tmpl, params, s.ShardBytes); err != nil {
		return 0, nil, err
	}
	return wire.ReadModel(&stream, wire.Expect{RunID: t.session.Run, Model: t.session.Model, Total: t.session.Params})
}

var _ Transport = (*MemTransport)(nil)
