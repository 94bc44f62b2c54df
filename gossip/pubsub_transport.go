package gossip

import (
	"context"
	"fmt"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gradmesh/gradmesh/wire"
)

// ModelProtocol carries the model-sync exchange (wire.WriteModel) that
// serves a peer's current model to peers that join late or fall behind.
const ModelProtocol = protocol.ID("/gradmesh/model/1.0.0")

// syncTimeout bounds one model-sync exchange.
const syncTimeout = 20 * time.Second

// inboundQueue is how many checked messages wait for the peer's event
// loop; when it is full, readers wait and gossipsub's own queues fill.
const inboundQueue = 4096

// PubSubTransport carries a run over libp2p: membership and heartbeats on
// the run's control topic, a peer's vectors on its own near and long topics
// (wire.ParamTopic, wire.LongTopic) that only its neighbors subscribe to,
// and model sync over streams (ModelProtocol). Every message passes the
// session's checks in gossipsub's validator, so a rejected one is charged
// to the peer that delivered it (Scorer) and goes no further.
type PubSubTransport struct {
	self    peer.ID
	host    host.Host
	ps      *pubsub.PubSub
	scorer  *Scorer
	protect func(id peer.ID, keep bool)

	session Session
	control *pubsub.Topic
	own     [2]*pubsub.Topic // by Channel
	inbound chan Inbound
	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex // guards follows
	follows map[following]*subscription
}

type following struct {
	id peer.ID
	ch Channel
}

type subscription struct {
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	cancel context.CancelFunc
}

// NewPubSubTransport carries a run over h with ps (see NewPubSub), whose
// peer score uses scorer. protect, when not nil, is told to keep (true) or
// release (false) the connection to a neighbor in the connection manager.
func NewPubSubTransport(h host.Host, ps *pubsub.PubSub, scorer *Scorer, protect func(id peer.ID, keep bool)) *PubSubTransport {
	return &PubSubTransport{self: h.ID(), host: h, ps: ps, scorer: scorer, protect: protect, follows: map[following]*subscription{},
		inbound: make(chan Inbound, inboundQueue)}
}

// Self implements Transport.
func (t *PubSubTransport) Self() peer.ID { return t.self }

// Open implements Transport: it joins the run's control topic and this
// peer's own topics, and starts answering model requests.
func (t *PubSubTransport) Open(s Session) error {
	t.session = s
	t.ctx, t.cancel = context.WithCancel(context.Background())
	name := wire.ControlTopic(s.Run)
	if err := t.ps.RegisterTopicValidator(name, t.validateHeartbeat); err != nil {
		return fmt.Errorf("control validator: %w", err)
	}
	var err error
	if t.control, err = t.ps.Join(name); err != nil {
		return fmt.Errorf("joining the control topic: %w", err)
	}
	for ch, name := range map[Channel]string{Near: wire.ParamTopic(s.Run, t.Self()), Long: wire.LongTopic(s.Run, t.Self())} {
		if t.own[ch], err = t.ps.Join(name); err != nil {
			return fmt.Errorf("joining own %s topic: %w", ch, err)
		}
	}
	sub, err := t.control.Subscribe()
	if err != nil {
		return fmt.Errorf("subscribing to the control topic: %w", err)
	}
	t.wg.Go(func() {
		defer sub.Cancel()
		t.read(t.ctx, sub, Near, true)
	})
	t.host.SetStreamHandler(ModelProtocol, t.serveModel)
	return nil
}

// Members implements Transport: the peers gossipsub lists on the control
// topic, which every member of the run subscribes to.
func (t *PubSubTransport) Members() []peer.ID {
	if t.control == nil {
		return nil
	}
	return t.control.ListPeers()
}

// Announce implements Transport.
func (t *PubSubTransport) Announce(ctx context.Context, heartbeat []byte) error {
	return t.control.Publish(ctx, heartbeat)
}

// Publish implements Transport. gossipsub drops what it cannot queue
// without an error; the shard budget keeps every message under its size
// limit.
func (t *PubSubTransport) Publish(ctx context.Context, ch Channel, shard []byte) (int, error) {
	if err := t.own[ch].Publish(ctx, shard); err != nil {
		return 0, err
	}
	return len(t.own[ch].ListPeers()), nil
}

// Followers implements Transport.
func (t *PubSubTransport) Followers(ch Channel) int {
	if t.own[ch] == nil {
		return 0
	}
	return len(t.own[ch].ListPeers())
}

func (t *PubSubTransport) topicName(id peer.ID, ch Channel) string {
	if ch == Long {
		return wire.LongTopic(t.session.Run, id)
	}
	return wire.ParamTopic(t.session.Run, id)
}

// Follow implements Transport: it subscribes to id's topic of ch, with a
// validator that checks each shard against the session.
func (t *PubSubTransport) Follow(id peer.ID, ch Channel) error {
	name := t.topicName(id, ch)
	if err := t.ps.RegisterTopicValidator(name, t.shardValidator(id, ch)); err != nil {
		return fmt.Errorf("validator for %s: %w", name, err)
	}
	topic, err := t.ps.Join(name)
	if err != nil {
		_ = t.ps.UnregisterTopicValidator(name)
		return err
	}
	sub, err := topic.Subscribe(pubsub.WithBufferSize(1024))
	if err != nil {
		_ = topic.Close()
		_ = t.ps.UnregisterTopicValidator(name)
		return err
	}
	ctx, cancel := context.WithCancel(t.ctx)
	t.mu.Lock()
	t.follows[following{id, ch}] = &subscription{topic: topic, sub: sub, cancel: cancel}
	t.mu.Unlock()
	if t.protect != nil {
		t.protect(id, true)
	}
	t.wg.Go(func() { t.read(ctx, sub, ch, false) })
	return nil
}

// Unfollow implements Transport.
func (t *PubSubTransport) Unfollow(id peer.ID, ch Channel) {
	t.mu.Lock()
	s := t.follows[following{id, ch}]
	delete(t.follows, following{id, ch})
	t.mu.Unlock()
	if s == nil {
		return
	}
	s.cancel()
	s.sub.Cancel()
	_ = s.topic.Close()
	_ = t.ps.UnregisterTopicValidator(t.topicName(id, ch))
}

// Release implements Transport.
func (t *PubSubTransport) Release(id peer.ID) {
	if t.protect != nil {
		t.protect(id, false)
	}
}

// Inbound implements Transport.
func (t *PubSubTransport) Inbound() <-chan Inbound { return t.inbound }

// Addrs implements Transport: the host's listen addresses with its peer ID.
func (t *PubSubTransport) Addrs() []string {
	var out []string
	for _, a := range t.host.Addrs() {
		out = append(out, fmt.Sprintf("%s/p2p/%s", a, t.Self()))
	}
	return out
}

// Close implements Transport: it leaves every followed topic and stops
// reading the control topic, so that the others see this peer leave the
// run. The host keeps answering model requests until it closes.
func (t *PubSubTransport) Close() error {
	if t.cancel == nil {
		return nil
	}
	t.mu.Lock()
	var all []following
	for f := range t.follows {
		all = append(all, f)
	}
	t.mu.Unlock()
	for _, f := range all {
		t.Unfollow(f.id, f.ch)
		t.Release(f.id)
	}
	t.cancel()
	t.wg.Wait()
	return nil
}

// read hands the checked messages of one subscription to the peer: the
// control topic's heartbeats, or a neighbor's shards on ch.
func (t *PubSubTransport) read(ctx context.Context, sub *pubsub.Subscription, ch Channel, control bool) {
	for {
		msg, err := sub.Next(ctx)
		if err != nil {
			return
		}
		in := Inbound{From: msg.GetFrom(), Channel: ch, Bytes: len(msg.Data)}
		switch v := msg.ValidatorData.(type) {
		case *wire.Heartbeat:
			in.Heartbeat = v
		case *wire.Shard:
			in.Shard = v
		}
		if in.From == t.Self() || (control && in.Heartbeat == nil) || (!control && in.Shard == nil) {
			continue // our own heartbeat, or nothing this subscription carries
		}
		select {
		case t.inbound <- in:
		case <-ctx.Done():
			return
		}
	}
}

func (t *PubSubTransport) validateHeartbeat(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	if from == t.Self() {
		return pubsub.ValidationAccept
	}
	hb, err := t.session.Checks.Heartbeat(msg.GetFrom(), msg.Data)
	if err != nil {
		t.scorer.Penalize(from)
		return pubsub.ValidationReject
	}
	msg.ValidatorData = hb
	return pubsub.ValidationAccept
}

// shardValidator checks every message on sender's topic of ch before
// gossipsub accepts it.
func (t *PubSubTransport) shardValidator(sender peer.ID, ch Channel) func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
	return func(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		if from == t.Self() {
			return pubsub.ValidationAccept
		}
		s, err := t.session.Checks.Shard(sender, msg.GetFrom(), ch, msg.Data)
		switch {
		case err == nil:
			msg.ValidatorData = s
			return pubsub.ValidationAccept
		case wire.Ignorable(err):
			return pubsub.ValidationIgnore
		}
		t.scorer.Penalize(from)
		return pubsub.ValidationReject
	}
}

func (t *PubSubTransport) serveModel(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(syncTimeout))
	if ok, err := wire.ReadModelRequest(s, t.session.Run, t.session.Model); err != nil || !ok {
		_ = s.Reset()
		return
	}
	round, params := t.session.Current()
	tmpl := wire.Shard{RunID: t.session.Run, Model: t.session.Model, Round: round, DataWeight: 1, Encoding: wire.EncodingFloat32}
	if err := wire.WriteModel(s, tmpl, params, t.session.ShardBytes); err != nil {
		_ = s.Reset()
	}
}

// FetchModel implements Transport over a ModelProtocol stream.
func (t *PubSubTransport) FetchModel(ctx context.Context, id peer.ID) (uint64, []float32, error) {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	s, err := t.host.NewStream(ctx, id, ModelProtocol)
	if err != nil {
		return 0, nil, err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(syncTimeout))
	if _, err := s.Write(wire.AppendModelRequest(nil, t.session.Run, t.session.Model)); err != nil {
		return 0, nil, err
	}
	return wire.ReadModel(s, wire.Expect{RunID: t.session.Run, Model: t.session.Model, Total: t.session.Params})
}

var _ Transport = (*PubSubTransport)(nil)
