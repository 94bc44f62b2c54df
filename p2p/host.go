package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// Host is a running gradmesh peer on the network: a libp2p host with its DHT
// (server mode, /gradmesh protocols), rendezvous discovery and, when asked,
// mDNS.
//
// Host embeds the libp2p host.Host, but its Addrs method returns strings, so
// *Host itself does not satisfy host.Host: pass h.Host where a host.Host is
// wanted (gossipsub, for instance).
//
// All methods are safe for concurrent use.
type Host struct {
	host.Host
	// DHT is the Kademlia DHT in server mode with the /gradmesh protocol
	// prefix.
	DHT *dht.IpfsDHT
	// Discovery advertises and finds peers under a namespace on the DHT.
	Discovery *drouting.RoutingDiscovery
	// Bandwidth counts the bytes every stream carries, per protocol: what
	// really crossed the transport, duplicates and forwarding included.
	Bandwidth *metrics.BandwidthCounter

	log       *slog.Logger
	cm        *connmgr.BasicConnMgr
	bootstrap []peer.AddrInfo
	mdns      io.Closer // nil unless Config.MDNS

	// ctx is cancelled by Close; background work (JoinRun, mDNS dials)
	// watches it and registers in wg through enter.
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	runs   map[*rendezvous]struct{} // running JoinRun calls
	wg     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// New starts a gradmesh host as cfg says: it listens, connects to the
// bootstrap peers (best effort, logged; ctx bounds these dials), starts the
// DHT and, if cfg.MDNS, mDNS discovery. The host runs until Close; ctx does
// not stop it.
func New(ctx context.Context, cfg Config) (*Host, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	self, err := peer.IDFromPrivateKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("p2p: Config.Key: deriving the peer ID: %w", err)
	}
	listen, err := parseListen(cfg.Listen)
	if err != nil {
		return nil, err
	}
	bootstrap, err := parseBootstrap(cfg.Bootstrap, self)
	if err != nil {
		return nil, err
	}
	h := &Host{log: cfg.Logger, bootstrap: bootstrap, runs: make(map[*rendezvous]struct{})}

	if h.cm, err = connmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, connmgr.WithGracePeriod(connGracePeriod)); err != nil {
		return nil, fmt.Errorf("p2p: connection manager (ConnLow %d, ConnHigh %d): %w", cfg.ConnLow, cfg.ConnHigh, err)
	}
	rm, err := newResourceManager()
	if err != nil {
		h.cm.Close()
		return nil, err
	}
	relays := new(relayCandidates)
	h.Bandwidth = metrics.NewBandwidthCounter()
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Key),
		libp2p.BandwidthReporter(h.Bandwidth),
		libp2p.ListenAddrs(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(tls.ID, tls.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(h.cm),
		libp2p.UserAgent(userAgent),
		// Nobody serves libp2p's Prometheus metrics in gradmesh, and they
		// are process-global state shared by every host of a simulation.
		libp2p.DisableMetrics(),
	}
	opts = append(opts, natOptions(cfg.RelayService, relays.source)...)
	if len(cfg.AllowList) > 0 {
		opts = append(opts, libp2p.ConnectionGater(newAllowListGater(self, cfg.AllowList)))
		for _, b := range bootstrap {
			if !slices.Contains(cfg.AllowList, b.ID) {
				h.log.Warn("p2p: bootstrap peer is not on the allow-list and will be refused", "peer", b.ID)
			}
		}
	}
	if h.Host, err = libp2p.New(opts...); err != nil {
		// Closing twice is harmless for both; libp2p closes them on some
		// failure paths only.
		h.cm.Close()
		rm.Close()
		return nil, fmt.Errorf("p2p: starting the libp2p host (listen %v): %w", cfg.Listen, err)
	}
	if h.DHT, err = newDHT(h.Host, bootstrap); err != nil {
		h.Host.Close()
		return nil, err
	}
	h.Discovery = drouting.NewRoutingDiscovery(h.DHT)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	relays.set(h)

	h.connectBootstrap(ctx)
	if err := h.DHT.Bootstrap(ctx); err != nil { // starts a routing-table refresh; never fails today
		h.log.Warn("p2p: DHT bootstrap", "err", err)
	}
	if cfg.MDNS {
		h.startMDNS()
	}
	h.log.Debug("p2p: host up", "id", self, "addrs", h.Addrs())
	return h, nil
}

// newResourceManager returns a resource manager with libp2p's default limits
// scaled to this machine's memory and file descriptors.
func newResourceManager() (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()))
	if err != nil {
		return nil, fmt.Errorf("p2p: resource manager: %w", err)
	}
	return rm, nil
}

// parseListen parses Config.Listen.
func parseListen(listen []string) ([]ma.Multiaddr, error) {
	out := make([]ma.Multiaddr, 0, len(listen))
	for _, s := range listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("p2p: listen address %q: %w", s, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Close stops mDNS, the background work of JoinRun, the DHT and the libp2p
// host, in that order, and waits for them. It is idempotent: later calls
// return the first call's result.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		h.cancel()
		var errs []error
		if h.mdns != nil {
			if err := h.mdns.Close(); err != nil {
				errs = append(errs, fmt.Errorf("p2p: closing mDNS: %w", err))
			}
		}
		h.wg.Wait()
		if err := h.DHT.Close(); err != nil {
			errs = append(errs, fmt.Errorf("p2p: closing the DHT: %w", err))
		}
		if err := h.Host.Close(); err != nil {
			errs = append(errs, fmt.Errorf("p2p: closing the libp2p host: %w", err))
		}
		h.closeErr = errors.Join(errs...)
	})
	return h.closeErr
}

// enter registers one piece of background work that Close must wait for. It
// returns false, registering nothing, once Close has begun. Each true return
// must be matched by h.wg.Done.
func (h *Host) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	return true
}

// Addrs returns the host's full multiaddrs, each ending in /p2p/<id>, as
// strings: what to print and what other peers pass as Config.Bootstrap.
// It shadows host.Host.Addrs; use h.Host.Addrs() for bare multiaddrs.
func (h *Host) Addrs() []string {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Host.Addrs()})
	if err != nil { // only for an empty peer ID, which a running host never has
		return nil
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

// Protect keeps every connection to id out of the connection manager's
// trimming while at least one tag protects it (chosen neighbors).
func (h *Host) Protect(id peer.ID, tag string) { h.cm.Protect(id, tag) }

// Unprotect removes tag's protection of id; other tags still protect it.
func (h *Host) Unprotect(id peer.ID, tag string) { h.cm.Unprotect(id, tag) }

// connect makes sure h is connected to ai.ID, dialing ai.Addrs, the addresses
// already in the peerstore or, if there are none, those the DHT finds for it.
// One call takes at most dialTimeout. Connecting to self or to a connected
// peer is a no-op.
func (h *Host) connect(ctx context.Context, ai peer.AddrInfo) error {
	if ai.ID == h.ID() || h.Network().Connectedness(ai.ID) == network.Connected {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if len(ai.Addrs) == 0 && len(h.Peerstore().Addrs(ai.ID)) == 0 {
		found, err := h.DHT.FindPeer(ctx, ai.ID)
		if err != nil {
			return fmt.Errorf("p2p: finding the addresses of %s on the DHT: %w", ai.ID, err)
		}
		ai = found
	}
	if err := h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("p2p: connecting to %s: %w", ai.ID, err)
	}
	return nil
}

// connectBootstrap connects to every bootstrap peer in parallel and waits;
// failures are logged, not returned. The addresses are kept in the peerstore
// for as long as the host runs, so the DHT can come back to them.
func (h *Host) connectBootstrap(ctx context.Context) {
	var wg sync.WaitGroup
	for _, ai := range h.bootstrap {
		h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
		wg.Go(func() {
			if err := h.connect(ctx, ai); err != nil {
				h.log.Warn("p2p: bootstrap peer unreachable", "peer", ai.ID, "err", err)
				return
			}
			h.log.Debug("p2p: connected to bootstrap peer", "peer", ai.ID)
		})
	}
	wg.Wait()
}
