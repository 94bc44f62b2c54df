package p2p

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Defaults. Every default of the package lives here.
const (
	// DefaultConnLow and DefaultConnHigh are the connection manager's
	// watermarks: above ConnHigh connections it trims down to ConnLow,
	// never touching protected peers (Host.Protect).
	DefaultConnLow  = 64
	DefaultConnHigh = 192

	// connGracePeriod is how long a new connection is exempt from trimming.
	connGracePeriod = time.Minute

	// dialTimeout bounds one attempt to connect to a peer (bootstrap,
	// rendezvous or mDNS find), including resolving its address on the DHT.
	dialTimeout = 10 * time.Second

	// DefaultRunEvery is JoinRun's lookup interval when it is given none.
	DefaultRunEvery = 10 * time.Second
	// minRunEvery is the shortest lookup interval JoinRun accepts; shorter
	// ones are raised to it.
	minRunEvery = 100 * time.Millisecond

	// isolatedReadvertise is the shortest interval at which JoinRun
	// advertises again while it has no connected run peer (its records may
	// have been lost with the peers that stored them).
	isolatedReadvertise = time.Minute

	// findTimeout bounds one rendezvous lookup (DHT FindProviders walk).
	findTimeout = 30 * time.Second

	// maxParallelDials bounds how many peers one rendezvous round connects
	// to at once.
	maxParallelDials = 8

	// runPeerTarget is how many run peers a rendezvous keeps connections
	// to on its own: enough for the run's control topic to reach the whole
	// run through gossipsub's mesh. The peer connects to the others it
	// chooses as neighbors, or measures, by their peer ID, from the
	// addresses the rendezvous recorded.
	runPeerTarget = 8

	// forgetAfter is how many lookup intervals a run peer that is neither
	// connected nor found again stays in JoinRun's set of run peers.
	forgetAfter = 10

	// runPeerTagValue is the connection manager value of a connection to a
	// run peer; connections with higher values are trimmed last.
	runPeerTagValue = 10

	// maxRelayCandidates caps one answer to AutoRelay's request for
	// candidate relays.
	maxRelayCandidates = 64

	// pingTimeout bounds the libp2p ping that RTT falls back to.
	pingTimeout = 2 * time.Second

	// dhtPrefix keeps gradmesh's DHT apart from the public IPFS (Amino) DHT:
	// peers speaking /ipfs/kad/1.0.0 never join the gradmesh routing tables.
	dhtPrefix = "/gradmesh"

	// mdnsService is the DNS-SD service name peers announce on the LAN.
	mdnsService = "gradmesh"

	// userAgent is what identify reports to other peers.
	userAgent = "gradmesh"
)

// DefaultListen is where a host listens when Config.Listen is empty: any IPv4
// interface, an OS-chosen port, over TCP and QUIC.
var DefaultListen = []string{
	"/ip4/0.0.0.0/tcp/0",
	"/ip4/0.0.0.0/udp/0/quic-v1",
}

// Config says how to start a Host. The zero value of every field but Key is
// usable and means the default.
type Config struct {
	// Key is the peer's identity (see LoadOrCreateKey). Required.
	Key crypto.PrivKey
	// Listen are the multiaddrs to listen on; empty means DefaultListen.
	Listen []string
	// Bootstrap are full multiaddrs (ending in /p2p/<id>) of peers already in
	// the mesh. New connects to them (best effort: failures are logged) and
	// the DHT uses them to fill its routing table. Any peer can bootstrap
	// others; the public IPFS bootstrap list is never used.
	Bootstrap []string
	// MDNS enables LAN discovery over mDNS (service name "gradmesh"); found
	// peers are connected to.
	MDNS bool
	// AllowList, when non-empty, makes this a private mesh: only the listed
	// peers may connect, in either direction (see allowListGater). The
	// host's own ID is always allowed.
	AllowList []peer.ID
	// RelayService offers circuit relay v2 and the AutoNAT service to other
	// peers. Turn it on for publicly reachable peers so that peers behind
	// NATs can learn their reachability and be reached through them.
	RelayService bool
	// ConnLow and ConnHigh are the connection manager's watermarks
	// (connections); zero means DefaultConnLow and DefaultConnHigh.
	ConnLow, ConnHigh int
	// Logger receives the host's logs; nil means slog.Default().
	Logger *slog.Logger
}

// withDefaults returns a copy of c with every zero field set to its default,
// or an error naming the field that is invalid.
func (c Config) withDefaults() (Config, error) {
	if c.Key == nil {
		return c, errors.New("p2p: Config.Key is required (see p2p.LoadOrCreateKey)")
	}
	if len(c.Listen) == 0 {
		c.Listen = append([]string(nil), DefaultListen...)
	}
	if c.ConnLow < 0 || c.ConnHigh < 0 {
		return c, fmt.Errorf("p2p: connection watermarks must not be negative (ConnLow %d, ConnHigh %d)", c.ConnLow, c.ConnHigh)
	}
	if c.ConnLow == 0 {
		c.ConnLow = DefaultConnLow
		if c.ConnHigh > 0 {
			c.ConnLow = min(c.ConnLow, c.ConnHigh)
		}
	}
	if c.ConnHigh == 0 {
		c.ConnHigh = max(DefaultConnHigh, c.ConnLow)
	}
	if c.ConnLow > c.ConnHigh {
		return c, fmt.Errorf("p2p: ConnLow %d is above ConnHigh %d", c.ConnLow, c.ConnHigh)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
