package gossip

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/wire"
)

// NewPubSub starts gossipsub set up for neighbor-directed delivery.
//
// gossipsub has no "pick my mesh" call, so gradmesh gives every peer its own
// parameter topic that only its chosen neighbors subscribe to, and keeps
// those topics out of gossipsub's mesh: with flood publishing a peer's
// shards go straight to its subscribers and nobody forwards them, so a peer
// receives one copy per neighbor, whatever the size of the run. The run's
// control topic alone has a gossipsub mesh (the default degrees), so that
// heartbeats reach every member through a few connections each instead of
// one connection to every member. Messages are signed (StrictSign) so a
// shard's author is known; peers whose messages fail validation lose score
// through scorer and are ignored once it falls below the graylist
// threshold.
func NewPubSub(ctx context.Context, h host.Host, scorer *Scorer) (*pubsub.PubSub, error) {
	params := pubsub.DefaultGossipSubParams()
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithGossipSubParams(params),
		pubsub.WithFloodPublish(true),
		// The peer filter is consulted only by the mesh machinery (join,
		// fanout, GRAFT, IHAVE/IWANT), not by subscriptions, message
		// acceptance or an author's flood publish: admitting nobody on the
		// parameter topics turns their forwarding off and leaves delivery
		// to subscribers intact.
		pubsub.WithPeerFilter(func(_ peer.ID, topic string) bool { return wire.IsControlTopic(topic) }),
		pubsub.WithPeerExchange(false),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMaxMessageSize(wire.MaxMessageBytes+frameSlack),
		// A round publishes several shards at once; the default queue of 32
		// per peer would drop the tail of a large model silently.
		pubsub.WithPeerOutboundQueueSize(1024),
		pubsub.WithValidateQueueSize(1024),
		pubsub.WithPeerScore(scorer.params(), &pubsub.PeerScoreThresholds{
			GossipThreshold: -10, PublishThreshold: -50, GraylistThreshold: -80,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("gossip: starting gossipsub: %w", err)
	}
	return ps, nil
}

// frameSlack is what gossipsub adds around our payload in one RPC frame
// (signature, key, topic, sequence number, protobuf framing).
const frameSlack = 4 << 10

// Scorer turns rejected messages into a gossipsub penalty: each rejection
// costs the forwarding peer 10 points, decaying by half every 30 s.
type Scorer struct {
	mu      sync.Mutex
	penalty map[peer.ID]float64
	updated map[peer.ID]time.Time
	now     func() time.Time
}

// NewScorer returns a scorer on the wall clock.
func NewScorer() *Scorer {
	return &Scorer{penalty: map[peer.ID]float64{}, updated: map[peer.ID]time.Time{}, now: time.Now}
}

const (
	rejectPenalty   = 10
	penaltyHalfLife = 30 * time.Second
)

// Penalize records one invalid message from p.
func (s *Scorer) Penalize(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.penalty[p] = s.decayed(p) + rejectPenalty
	s.updated[p] = s.now()
}

// Score is p's application-specific score (≤ 0).
func (s *Scorer) Score(p peer.ID) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return -s.decayed(p)
}

func (s *Scorer) decayed(p peer.ID) float64 {
	v, ok := s.penalty[p]
	if !ok {
		return 0
	}
	age := s.now().Sub(s.updated[p])
	return v * math.Pow(0.5, age.Seconds()/penaltyHalfLife.Seconds())
}

func (s *Scorer) params() *pubsub.PeerScoreParams {
	return &pubsub.PeerScoreParams{
		Topics:            map[string]*pubsub.TopicScoreParams{},
		AppSpecificScore:  s.Score,
		AppSpecificWeight: 1,
		// Peers on one machine or behind one NAT share an IP; that is normal here.
		IPColocationFactorWeight: 0,
		DecayInterval:            time.Second,
		DecayToZero:              0.01,
		RetainScore:              time.Minute,
	}
}
