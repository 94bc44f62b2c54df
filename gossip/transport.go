package gossip

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/wire"
)

// Transport is how a live peer reaches the other members of its run:
// who they are, heartbeats to all of them, this peer's vectors to the
// neighbors that follow it, the vectors of the neighbors it follows, and
// a model fetched from one of them. PubSubTransport carries it over
// gossipsub and libp2p streams; MemNetwork in one process, for tests.
//
// The peer calls every method from its own goroutine except Members,
// Followers and Addrs, which its status page may call from any, before
// Open and after Close too.
type Transport interface {
	// Self is this peer's identity.
	Self() peer.ID
	// Open starts carrying the session's run: from now on heartbeats and
	// the shards of followed neighbors that pass the session's checks
	// arrive on Heartbeats and Shards, and model requests are answered
	// from session.Current. A failed Open leaves nothing behind.
	Open(session Session) error
	// Members lists the run's members this peer reaches now, itself
	// excluded.
	Members() []peer.ID
	// Announce sends an encoded heartbeat to every member.
	Announce(ctx context.Context, heartbeat []byte) error
	// Publish sends one encoded shard on this peer's channel ch to the
	// peers that follow it there, and returns how many that was.
	Publish(ctx context.Context, ch Channel, shard []byte) (copies int, err error)
	// Followers counts the peers that follow this peer's channel ch.
	Followers(ch Channel) int
	// Follow starts delivering id's shards on ch; Unfollow stops it and
	// forgets the subscription. Following a neighbor also asks the
	// transport to keep its connection.
	Follow(id peer.ID, ch Channel) error
	Unfollow(id peer.ID, ch Channel)
	// Release tells the transport that id is no neighbor any more on any
	// channel: its connection need not be kept for training.
	Release(id peer.ID)
	// Heartbeats and Shards deliver what arrived and passed the checks, in
	// arrival order per sender. Heartbeats have a queue of their own, so
	// that a peer busy with vectors still hears its members.
	Heartbeats() <-chan Inbound
	Shards() <-chan Inbound
	// FetchModel asks id for its current model, checked against the
	// session's run and model and complete.
	FetchModel(ctx context.Context, id peer.ID) (round uint64, params []float32, err error)
	// Addrs are this peer's addresses as others may dial them, for status
	// pages; nil when the transport has none.
	Addrs() []string
	// Close undoes Open: it leaves the run, so that the others see this
	// peer go, and stops delivering messages and answering model requests.
	Close() error
}

// Channel is one of a peer's two streams of vectors.
type Channel uint8

const (
	// Near carries a peer's vector every round, to its near neighbors.
	Near Channel = iota
	// Long carries it on long-link exchange rounds, to its long neighbors.
	Long
)

// String names the channel for logs.
func (c Channel) String() string {
	if c == Long {
		return "long"
	}
	return "near"
}

// following names one channel of one peer that this peer follows.
type following struct {
	id peer.ID
	ch Channel
}

// Session is what a transport needs to know of the run its peer trains.
type Session struct {
	Run, Model [16]byte // wire.RunID and wire.ModelFingerprint
	Params     int      // length of a parameter vector
	ShardBytes int      // shard budget of model responses
	Checks     *Checks  // what every inbound message must pass
	// Current is the model this peer serves to peers that catch up, and
	// its round. Called from any goroutine.
	Current func() (round uint64, params []float32)
}

// Inbound is one message that arrived and passed its checks: a heartbeat
// from a member, or a shard on a followed neighbor's channel.
type Inbound struct {
	From      peer.ID
	Channel   Channel         // the shard's channel
	Heartbeat *wire.Heartbeat // set for a heartbeat
	Shard     *wire.Shard     // set for a shard
	Bytes     int             // encoded size, for the byte counters
}
