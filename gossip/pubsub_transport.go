package gossip

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// memberTTL is how long a peer counts as a member of the run after its
// last valid heartbeat, when it is not connected: heartbeats reach members
// through the control topic's mesh, and one that stops sending them has
// left.
const memberTTL = 10 * time.Second

// Queue lengths of checked messages waiting for the peer's event loop;
// when one is full its readers wait and gossipsub's own queues fill.
const (
	shardQueue     = 4096
	heartbeatQueue = 256
)

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

	heartbeats, shards chan Inbound
	wg                 sync.WaitGroup // readers and dials

	heardMu sync.Mutex
	heard   map[peer.ID]time.Time // authors of valid heartbeats, when last heard
	// session is written by Open before the validators, readers and
	// stream handler that read it exist.
	session Session

	mu      sync.RWMutex // guards everything below
	control *pubsub.Topic
	own     [2]*pubsub.Topic // by Channel
	cancel  context.CancelFunc
	ctx     context.Context // ends at Close
	follows map[following]*subscription
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
		heard:      map[peer.ID]time.Time{},
		heartbeats: make(chan Inbound, heartbeatQueue), shards: make(chan Inbound, shardQueue)}
}

// Self implements Transport.
func (t *PubSubTransport) Self() peer.ID { return t.self }

// Open implements Transport: it joins the run's control topic and this
// peer's own topics, and starts answering model requests.
func (t *PubSubTransport) Open(s Session) (err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cancel != nil {
		return fmt.Errorf("gossip: transport already open")
	}
	t.session = s
	t.ctx, t.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil { // no reader has started: nothing fails once one has
			t.stopLocked()
			t.leaveLocked()
		}
	}()
	if err := t.ps.RegisterTopicValidator(wire.ControlTopic(s.Run), t.validateHeartbeat); err != nil {
		return fmt.Errorf("control validator: %w", err)
	}
	if t.control, err = t.ps.Join(wire.ControlTopic(s.Run)); err != nil {
		return fmt.Errorf("joining the control topic: %w", err)
	}
	for ch, name := range map[Channel]string{Near: wire.ParamTopic(s.Run, t.self), Long: wire.LongTopic(s.Run, t.self)} {
		if t.own[ch], err = t.ps.Join(name); err != nil {
			return fmt.Errorf("joining own %s topic: %w", ch, err)
		}
	}
	sub, err := t.control.Subscribe()
	if err != nil {
		return fmt.Errorf("subscribing to the control topic: %w", err)
	}
	events, err := t.control.EventHandler()
	if err != nil {
		sub.Cancel()
		return fmt.Errorf("watching the control topic: %w", err)
	}
	ctx := t.ctx
	t.wg.Go(func() {
		defer sub.Cancel()
		t.read(ctx, sub, t.heartbeats, Near)
	})
	t.wg.Go(func() {
		defer events.Cancel()
		t.watchLeaves(ctx, events)
	})
	t.host.SetStreamHandler(ModelProtocol, t.serveModel)
	return nil
}

// Members implements Transport: the connected peers gossipsub lists on
// the control topic, which every member of the run subscribes to, and the
// authors of heartbeats relayed to this peer over the last memberTTL.
func (t *PubSubTransport) Members() []peer.ID {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.control == nil {
		return nil
	}
	members := t.control.ListPeers()
	t.heardMu.Lock()
	defer t.heardMu.Unlock()
	now := time.Now()
	for id, at := range t.heard {
		switch {
		case now.Sub(at) > memberTTL:
			delete(t.heard, id)
		case !slices.Contains(members, id):
			members = append(members, id)
		}
	}
	return members
}

// watchLeaves forgets the heartbeats of a connected member as soon as it
// leaves the control topic (it disconnected or unsubscribed), rather than
// memberTTL later: one that is still in the run is heard again within a
// heartbeat period, through the mesh.
func (t *PubSubTransport) watchLeaves(ctx context.Context, events *pubsub.TopicEventHandler) {
	for {
		ev, err := events.NextPeerEvent(ctx)
		if err != nil {
			return
		}
		if ev.Type == pubsub.PeerLeave {
			t.heardMu.Lock()
			delete(t.heard, ev.Peer)
			t.heardMu.Unlock()
		}
	}
}

// Announce implements Transport.
func (t *PubSubTransport) Announce(ctx context.Context, heartbeat []byte) error {
	t.mu.RLock()
	control := t.control
	t.mu.RUnlock()
	if control == nil {
		return errNotOpen
	}
	return control.Publish(ctx, heartbeat)
}

// Publish implements Transport. gossipsub drops what it cannot queue
// without an error; the shard budget keeps every message under its size
// limit.
func (t *PubSubTransport) Publish(ctx context.Context, ch Channel, shard []byte) (int, error) {
	t.mu.RLock()
	own := t.own[ch]
	t.mu.RUnlock()
	if own == nil {
		return 0, errNotOpen
	}
	if err := own.Publish(ctx, shard); err != nil {
		return 0, err
	}
	return len(own.ListPeers()), nil
}

// Followers implements Transport.
func (t *PubSubTransport) Followers(ch Channel) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.own[ch] == nil {
		return 0
	}
	return len(t.own[ch].ListPeers())
}

// topicName is id's topic of ch in the open session's run.
func (t *PubSubTransport) topicName(id peer.ID, ch Channel) string {
	if ch == Long {
		return wire.LongTopic(t.session.Run, id)
	}
	return wire.ParamTopic(t.session.Run, id)
}

// Follow implements Transport: it subscribes to id's topic of ch, with a
// validator that checks each shard against the session.
func (t *PubSubTransport) Follow(id peer.ID, ch Channel) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cancel == nil {
		return errNotOpen
	}
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
	t.follows[following{id, ch}] = &subscription{topic: topic, sub: sub, cancel: cancel}
	if t.protect != nil {
		t.protect(id, true)
	}
	t.wg.Go(func() { t.read(ctx, sub, t.shards, ch) })
	if t.host.Network().Connectedness(id) != network.Connected {
		// A member heard through the control topic's mesh may have no
		// connection to this peer yet; gossipsub tells it of the
		// subscription once there is one. One that cannot be reached ends
		// rounds by deadline until a plan drops it.
		t.wg.Go(func() { _ = t.host.Connect(ctx, peer.AddrInfo{ID: id}) })
	}
	return nil
}

// Unfollow implements Transport.
func (t *PubSubTransport) Unfollow(id peer.ID, ch Channel) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unfollowLocked(following{id, ch})
}

func (t *PubSubTransport) unfollowLocked(f following) {
	s := t.follows[f]
	if s == nil {
		return
	}
	delete(t.follows, f)
	s.cancel()
	s.sub.Cancel()
	_ = s.topic.Close()
	_ = t.ps.UnregisterTopicValidator(t.topicName(f.id, f.ch))
}

// Release implements Transport.
func (t *PubSubTransport) Release(id peer.ID) {
	if t.protect != nil {
		t.protect(id, false)
	}
}

// Heartbeats implements Transport.
func (t *PubSubTransport) Heartbeats() <-chan Inbound { return t.heartbeats }

// Shards implements Transport.
func (t *PubSubTransport) Shards() <-chan Inbound { return t.shards }

// Addrs implements Transport: the host's listen addresses with its peer ID.
func (t *PubSubTransport) Addrs() []string {
	var out []string
	for _, a := range t.host.Addrs() {
		out = append(out, fmt.Sprintf("%s/p2p/%s", a, t.self))
	}
	return out
}

// Close implements Transport: it leaves every followed topic and releases
// their connections, stops answering model requests, then leaves the
// control and own topics, so that the others see this peer leave the run.
func (t *PubSubTransport) Close() error {
	t.mu.Lock()
	open := t.cancel != nil
	t.stopLocked()
	t.mu.Unlock()
	t.wg.Wait() // the readers are gone, their subscriptions cancelled
	if open {
		t.mu.Lock()
		t.leaveLocked()
		t.mu.Unlock()
	}
	return nil
}

// stopLocked unfollows every neighbor, ends the readers and the model
// service; the caller holds mu.
func (t *PubSubTransport) stopLocked() {
	if t.cancel == nil {
		return
	}
	for f := range t.follows {
		t.unfollowLocked(f)
		t.Release(f.id)
	}
	t.cancel()
	t.cancel = nil
	t.host.RemoveStreamHandler(ModelProtocol)
}

// leaveLocked leaves the topics Open joined, once no subscription to them
// is left; the caller holds mu.
func (t *PubSubTransport) leaveLocked() {
	for i, topic := range t.own {
		if topic != nil {
			_ = topic.Close()
			t.own[i] = nil
		}
	}
	if t.control != nil {
		_ = t.control.Close()
		t.control = nil
	}
	_ = t.ps.UnregisterTopicValidator(wire.ControlTopic(t.session.Run))
}

// errNotOpen is what a PubSubTransport says when used outside Open..Close.
var errNotOpen = errors.New("gossip: transport not open")

// read hands the checked messages of one subscription to the peer on out:
// the control topic's heartbeats, or a neighbor's shards on ch.
func (t *PubSubTransport) read(ctx context.Context, sub *pubsub.Subscription, out chan<- Inbound, ch Channel) {
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
		default:
			continue
		}
		if in.From == t.self {
			continue // our own heartbeat
		}
		select {
		case out <- in:
		case <-ctx.Done():
			return
		}
	}
}

func (t *PubSubTransport) validateHeartbeat(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	if from == t.self {
		return pubsub.ValidationAccept
	}
	hb, err := t.session.Checks.Heartbeat(msg.GetFrom(), msg.Data)
	if err != nil {
		t.scorer.Penalize(from)
		return pubsub.ValidationReject
	}
	if author := msg.GetFrom(); author != t.self {
		t.heardMu.Lock()
		t.heard[author] = time.Now()
		t.heardMu.Unlock()
	}
	msg.ValidatorData = hb
	return pubsub.ValidationAccept
}

// shardValidator checks every message on sender's topic of ch before
// gossipsub accepts it.
func (t *PubSubTransport) shardValidator(sender peer.ID, ch Channel) func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
	return func(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		if from == t.self {
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
