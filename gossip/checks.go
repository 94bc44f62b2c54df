package gossip

import (
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// Checks is what a peer requires of every message before its transport
// hands it over: a heartbeat of this run and model within every bound,
// proposing no link to its own author; a shard of a followed neighbor's
// channel, published by that neighbor, well formed, of this run and model,
// and within the round window of its channel. Malformed, forged or
// hostile messages are rejected, logged and counted (a transport also
// charges them to whoever delivered them); a shard for a round outside the
// window is only ignored, since an honest peer that is behind sends those.
//
// Its methods are safe for concurrent use: transports call them from
// their own goroutines.
type Checks struct {
	run, model [16]byte
	params     int
	window     [2]uint64      // accepted rounds around the local one, by Channel
	round      *atomic.Uint64 // the peer's round in progress
	rejected   func()         // counts a rejected message
	log        *slog.Logger
}

// newChecks returns the checks of a peer at round. A long neighbor's
// exchange may land up to 2·longPeriod rounds off, so its channel's window
// is that wide if wider than the near one.
func newChecks(run, model [16]byte, params, longPeriod int, round *atomic.Uint64, rejected func(), log *slog.Logger) *Checks {
	near := uint64(training.DefaultWindow)
	return &Checks{run: run, model: model, params: params, round: round, rejected: rejected, log: log,
		window: [2]uint64{Near: near, Long: max(near, uint64(2*longPeriod))}}
}

// Heartbeat decodes and checks a heartbeat author published.
func (c *Checks) Heartbeat(author peer.ID, data []byte) (*wire.Heartbeat, error) {
	hb, err := wire.UnmarshalHeartbeat(data, c.run, c.model)
	if err == nil {
		err = hb.CheckAuthor(author)
	}
	if err != nil {
		c.rejected()
		c.log.Warn("rejected a heartbeat", "from", author, "err", err)
		return nil, err
	}
	return hb, nil
}

// Shard decodes and checks a shard author published on sender's channel
// ch. An error for which wire.Ignorable holds means a round outside the
// window: drop the shard, but do not hold it against anyone.
func (c *Checks) Shard(sender, author peer.ID, ch Channel, data []byte) (*wire.Shard, error) {
	s, err := c.shard(sender, author, ch, data)
	switch {
	case err == nil:
		return s, nil
	case wire.Ignorable(err):
		c.log.Debug("ignored a parameter message", "from", author, "channel", ch, "err", err)
	default:
		c.rejected()
		c.log.Warn("rejected a parameter message", "author", author, "sender", sender, "channel", ch, "err", err)
	}
	return nil, err
}

func (c *Checks) shard(sender, author peer.ID, ch Channel, data []byte) (*wire.Shard, error) {
	if author != sender {
		return nil, errNotSender
	}
	s, err := wire.DecodeShard(data)
	if err != nil {
		return nil, err
	}
	expect := wire.Expect{RunID: c.run, Model: c.model, Total: c.params, Window: c.window[ch]}
	if err := expect.Check(s, c.round.Load()); err != nil {
		return nil, err
	}
	return s, nil
}

// errNotSender rejects a shard on a neighbor's channel that the neighbor
// did not publish: only a peer's own vectors go on its channels.
var errNotSender = errors.New("gossip: author is not the topic's sender")
