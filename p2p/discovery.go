package p2p

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
)

// RunNamespace is the rendezvous namespace of the training run named run:
// "gradmesh/run/" and the first 32 hex digits of the SHA-256 of the name, so
// that names of any length and alphabet map to a fixed-size key.
func RunNamespace(run string) string {
	sum := sha256.Sum256([]byte(run))
	return "gradmesh/run/" + hex.EncodeToString(sum[:])[:32]
}

// JoinRun makes h a member of the training run named run until ctx ends or h
// is closed, and blocks until then (call it with go).
//
// It advertises h on the DHT under RunNamespace(run), again before each
// advertisement's TTL runs out, and looks for the other peers advertised
// there every `every`, recording their addresses and connecting to them
// until runPeerTarget run peers are connected (the run's control topic
// reaches the others; the peer dials those it needs by ID). While none
// of the run peers it found is connected (it just started, or lost all its
// neighbors) it looks every every/4 and advertises again every `every` or
// every minute, whichever is longer, in case its advertisement was lost; and
// the loss of its last run peer triggers a lookup within every/4.
// every <= 0 means DefaultRunEvery; shorter than 100 ms is raised to 100 ms.
//
// Failures (no DHT peers yet, unreachable peers) are logged at debug level
// and retried, never returned. Several JoinRun calls may run at once, for the
// same or different runs.
func (h *Host) JoinRun(ctx context.Context, run string, every time.Duration) {
	if every <= 0 {
		every = DefaultRunEvery
	}
	every = max(every, minRunEvery)
	if !h.enter() {
		return
	}
	defer h.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(h.ctx, cancel)()

	r := &rendezvous{
		h:           h,
		ns:          RunNamespace(run),
		every:       every,
		peers:       make(map[peer.ID]time.Time),
		dialing:     make(map[peer.ID]bool),
		readvertise: make(chan struct{}, 1),
		wake:        make(chan struct{}, 1),
	}
	r.log = h.log.With("run", run, "namespace", r.ns)
	h.mu.Lock()
	h.runs[r] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.runs, r)
		h.mu.Unlock()
	}()
	r.log.Debug("p2p: joining run", "every", every)

	var wg sync.WaitGroup
	wg.Go(func() { r.advertise(ctx) })
	// The buffer keeps a burst of connection changes from stalling the
	// event bus while the watcher is busy.
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged), eventbus.BufSize(256))
	if err != nil {
		r.log.Warn("p2p: no connection events; relying on periodic lookups", "err", err)
	} else {
		wg.Go(func() { r.watch(ctx, sub) })
	}
	r.find(ctx)
	wg.Wait()
	r.dials.Wait()
}

// rendezvous is the state of one JoinRun call.
type rendezvous struct {
	h     *Host
	ns    string
	every time.Duration
	log   *slog.Logger

	mu      sync.Mutex
	peers   map[peer.ID]time.Time // run peers found, and when last found
	dialing map[peer.ID]bool      // run peers being dialed
	dials   sync.WaitGroup        // the dials under way

	readvertise chan struct{} // find → advertise: isolated, advertise again now
	wake        chan struct{} // watch → find: the last run peer is gone
}

// advertise keeps h advertised under r.ns until ctx ends: again at 7/8 of
// each advertisement's TTL, after failures with a backoff from every/4 up to
// every, and whenever find asks because h is isolated.
func (r *rendezvous) advertise(ctx context.Context) {
	retry := r.every / 4
	for {
		var wait time.Duration
		ttl, err := r.h.Discovery.Advertise(ctx, r.ns)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.log.Debug("p2p: advertising failed; will retry", "err", err, "retry", retry)
			wait = retry
			retry = min(2*retry, r.every)
		default:
			r.log.Debug("p2p: advertised", "ttl", ttl)
			wait = ttl - ttl/8
			retry = r.every / 4
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-r.readvertise:
			t.Stop()
		}
	}
}

// find looks for run peers and connects to them until ctx ends.
func (r *rendezvous) find(ctx context.Context) {
	lastReadvertise := time.Now() // advertise has just started
	readvertiseEvery := max(r.every, isolatedReadvertise)
	for {
		// A peer whose DHT knows nobody (its bootstrap peer was not up yet,
		// or every peer it knew has left) cannot look anything up: dial the
		// bootstrap peers again first.
		if r.h.DHT.RoutingTable().Size() == 0 {
			r.h.connectBootstrap(ctx)
		}
		r.round(ctx)
		wait := r.every
		if !r.connected() {
			wait = r.every / 4
			if time.Since(lastReadvertise) >= readvertiseEvery {
				lastReadvertise = time.Now()
				select {
				case r.readvertise <- struct{}{}:
				default:
				}
			}
		}
		deadline := time.Now().Add(wait)
		t := time.NewTimer(wait)
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
				waiting = false
			case <-r.wake:
				if soon := time.Now().Add(r.every / 4); soon.Before(deadline) {
					deadline = soon
					t.Reset(time.Until(soon))
				}
			}
		}
	}
}

// round runs one lookup of r.ns, records the addresses of the run peers
// found, and starts connecting to those that are neither connected nor
// being dialed while fewer than runPeerTarget run peers are connected or
// being dialed, at most maxParallelDials dials at a time; peers beyond that
// wait for a later round. It does not wait for the dials, so a slow or dead
// peer (a stale advertisement) never delays the next lookup.
func (r *rendezvous) round(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, findTimeout)
	defer cancel()
	found, err := r.h.Discovery.FindPeers(qctx, r.ns)
	if err != nil {
		r.log.Debug("p2p: looking for run peers failed", "err", err)
		return
	}
	now := time.Now()
	for ai := range found {
		if ai.ID == r.h.ID() { // our own advertisement
			continue
		}
		r.mu.Lock()
		r.peers[ai.ID] = now
		r.mu.Unlock()
		r.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.AddressTTL)
		if r.h.Network().Connectedness(ai.ID) == network.Connected {
			r.tag(ai.ID)
			continue
		}
		if r.connectedOrDialing() < runPeerTarget {
			r.dial(ctx, ai)
		}
	}
	r.forget(now.Add(-forgetAfter * r.every))
}

// dial connects to the run peer ai in the background, unless it is being
// dialed already or maxParallelDials dials are under way.
func (r *rendezvous) dial(ctx context.Context, ai peer.AddrInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dialing[ai.ID] || len(r.dialing) >= maxParallelDials {
		return
	}
	r.dialing[ai.ID] = true
	r.dials.Go(func() {
		defer func() {
			r.mu.Lock()
			delete(r.dialing, ai.ID)
			r.mu.Unlock()
		}()
		if err := r.h.connect(ctx, ai); err != nil {
			r.log.Debug("p2p: run peer unreachable", "peer", ai.ID, "err", err)
			return
		}
		r.tag(ai.ID)
		r.log.Debug("p2p: connected to run peer", "peer", ai.ID)
	})
}

// tag marks the connection manager's record of the connected run peer id,
// so that trimming closes connections to other peers (DHT contacts, peers
// of other runs) first. The tag lasts as long as the connection.
func (r *rendezvous) tag(id peer.ID) {
	r.h.cm.TagPeer(id, "gradmesh-run:"+r.ns, runPeerTagValue)
}

// forget drops the run peers that are not connected and were last found
// before cutoff.
func (r *rendezvous) forget(cutoff time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, last := range r.peers {
		if last.Before(cutoff) && r.h.Network().Connectedness(id) != network.Connected {
			delete(r.peers, id)
		}
	}
}

// connectedOrDialing counts the run peers h is connected to or dialing.
func (r *rendezvous) connectedOrDialing() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.dialing)
	for id := range r.peers {
		if !r.dialing[id] && r.h.Network().Connectedness(id) == network.Connected {
			n++
		}
	}
	return n
}

// connected reports whether h is connected to at least one run peer.
func (r *rendezvous) connected() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.peers {
		if r.h.Network().Connectedness(id) == network.Connected {
			return true
		}
	}
	return false
}

// runPeers returns the peers of run that h's running JoinRun calls have
// found, connected or not, each once.
func (h *Host) runPeers(run string) []peer.ID {
	ns := RunNamespace(run)
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := make(map[peer.ID]bool)
	var out []peer.ID
	for r := range h.runs {
		if r.ns != ns {
			continue
		}
		for _, id := range r.runPeers() {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// isRunPeer reports whether id is among the run peers found.
func (r *rendezvous) isRunPeer(id peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.peers[id]
	return ok
}

// runPeers returns the run peers found so far.
func (r *rendezvous) runPeers() []peer.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]peer.ID, 0, len(r.peers))
	for id := range r.peers {
		out = append(out, id)
	}
	return out
}

// watch wakes find when the last connected run peer disconnects, until ctx
// ends; it closes sub.
func (r *rendezvous) watch(ctx context.Context, sub event.Subscription) {
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			ev, ok := e.(event.EvtPeerConnectednessChanged)
			if !ok || ev.Connectedness == network.Connected || !r.isRunPeer(ev.Peer) || r.connected() {
				continue
			}
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
	}
}
