package meshtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/x/simlibp2p"
	"github.com/marcopolo/simnet"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/gradmesh/gradmesh/topology"
)

// World is a simulated network of real libp2p hosts: each host speaks
// QUIC over a simnet endpoint, and every packet from host i to host j waits
// RTT(i, j)/2 of the current latency matrix, plus the queueing of both
// hosts' rate-limited links. Create it inside a synctest bubble: time is
// then virtual, and a run of many virtual minutes costs seconds of wall time.
type World struct {
	net   *simnet.Simnet
	Hosts []host.Host
	addrs map[peer.ID][]ma.Multiaddr // every host's listen addresses, for FindPeer
	// rtt is the matrix packets are delayed by, row = sender, ms; swapped
	// whole to move peers (mobility) while the network runs.
	rtt    atomic.Pointer[topology.LatencyMatrix]
	byIP   map[[4]byte]int // host address -> row of rtt
	Misses atomic.Int64    // packets between addresses that are no host
}

// Link is each host's access link: both directions at this rate.
type Link struct {
	BitsPerSec int
}

// NewWorld starts one host per row of rtt, with identities drawn from
// seed so that peer IDs, and with them every ID-ordered choice, repeat from
// run to run. Hosts listen on /ip4/<public test address>/udp/8000/quic-v1.
func NewWorld(t *testing.T, rtt *topology.LatencyMatrix, link Link, seed uint64) *World {
	t.Helper()
	if err := checkRTT(rtt); err != nil {
		t.Fatal(err)
	}
	w := &World{byIP: map[[4]byte]int{}, addrs: map[peer.ID][]ma.Multiaddr{}}
	w.rtt.Store(rtt)
	w.net = &simnet.Simnet{LatencyFunc: w.latency, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	settings := simnet.NodeBiDiLinkSettings{
		Downlink: simnet.LinkSettings{BitsPerSecond: link.BitsPerSec},
		Uplink:   simnet.LinkSettings{BitsPerSecond: link.BitsPerSec},
	}
	keys := rand.NewChaCha8(seedBytes(seed))
	for i := range rtt.N {
		ip := simnet.IntToPublicIPv4(i)
		w.byIP[[4]byte(ip.To4())] = i
		key, _, err := crypto.GenerateEd25519Key(keys)
		if err != nil {
			t.Fatal(err)
		}
		cm, err := connmgr.NewConnManager(connLow, connHigh)
		if err != nil {
			t.Fatal(err)
		}
		h, err := libp2p.New(
			libp2p.Identity(key),
			// Peers reach each other by peer ID alone, as over the DHT.
			libp2p.Routing(func(host.Host) (routing.PeerRouting, error) { return w, nil }),
			libp2p.ConnectionManager(cm),
			libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", ip)),
			libp2p.NoTransports, libp2p.Transport(libp2pquic.NewTransport),
			simlibp2p.QUICSimnet(w.net, settings),
			// Identify's address discovery stalls synctest (it is off in
			// simlibp2p too); the hosts' listen addresses are all we need.
			libp2p.DisableIdentifyAddressDiscovery(),
			libp2p.ResourceManager(&network.NullResourceManager{}),
			libp2p.DisableMetrics(),
		)
		if err != nil {
			t.Fatalf("host %d: %v", i, err)
		}
		w.Hosts = append(w.Hosts, h)
		w.addrs[h.ID()] = h.Addrs()
	}
	w.net.Start()
	return w
}

// Each host's connection manager trims its connections to connLow once
// it holds more than connHigh, sparing the protected ones (neighbors) and
// those gossipsub keeps for the control topic's mesh.
const connLow, connHigh = 24, 32

// FindPeer implements routing.PeerRouting for the hosts: every host's
// listen addresses, as a DHT lookup would find them.
func (w *World) FindPeer(_ context.Context, id peer.ID) (peer.AddrInfo, error) {
	addrs, ok := w.addrs[id]
	if !ok {
		return peer.AddrInfo{}, routing.ErrNotFound
	}
	return peer.AddrInfo{ID: id, Addrs: addrs}, nil
}

// Protect keeps host i's connection to id through trimming (keep) or
// lets it go (!keep), as a live peer does for its neighbors.
func (w *World) Protect(i int, id peer.ID, keep bool) {
	if keep {
		w.Hosts[i].ConnManager().Protect(id, "gradmesh-neighbor")
	} else {
		w.Hosts[i].ConnManager().Unprotect(id, "gradmesh-neighbor")
	}
}

// Bootstrap connects each host to k others drawn with seed, all at the
// same time, as a peer connects to the first run members its rendezvous
// finds: the control topic's mesh then carries every heartbeat to every
// host, and hosts connect to the neighbors they choose on their own.
func (w *World) Bootstrap(ctx context.Context, k int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x626f6f74))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i, a := range w.Hosts {
		others := slices.DeleteFunc(rng.Perm(len(w.Hosts)), func(j int) bool { return j == i })
		for _, j := range others[:min(k, len(others))] {
			b := w.Hosts[j]
			wg.Go(func() {
				if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("simulated network: host %d dialing host %d: %w", i, j, err))
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
	}
	return b
}

// checkRTT refuses a matrix the network cannot delay packets by.
func checkRTT(m *topology.LatencyMatrix) error {
	if m == nil || m.N < 2 || len(m.MS) != m.N*m.N {
		return fmt.Errorf("simulated network: need an N×N RTT matrix with N ≥ 2")
	}
	for i := range m.N {
		for j := range m.N {
			if v := m.At(i, j); i != j && !(v >= 0 && v < math.Inf(1)) {
				return fmt.Errorf("simulated network: RTT from node %d to %d is %v ms, want a finite value ≥ 0", i, j, v)
			}
		}
	}
	return nil
}

// latency is the simnet's per-packet one-way delay: half the sender's
// measured RTT to the receiver, as the algorithm-level simulator charges.
func (w *World) latency(p *simnet.Packet) time.Duration {
	from, okFrom := w.Index(p.From)
	to, okTo := w.Index(p.To)
	if !okFrom || !okTo {
		w.Misses.Add(1)
		return 0
	}
	ms := w.rtt.Load().At(from, to) / 2
	return time.Duration(ms * float64(time.Millisecond))
}

func (w *World) Index(a net.Addr) (int, bool) {
	u, ok := a.(*net.UDPAddr)
	if !ok || u.IP.To4() == nil {
		return 0, false
	}
	i, ok := w.byIP[[4]byte(u.IP.To4())]
	return i, ok
}

// RTT is the matrix packets are delayed by now.
func (w *World) RTT() *topology.LatencyMatrix { return w.rtt.Load() }

// SetRTT replaces the latency matrix for packets sent from now on; it must
// have the same size.
func (w *World) SetRTT(m *topology.LatencyMatrix) error {
	if err := checkRTT(m); err != nil {
		return err
	}
	if m.N != len(w.Hosts) {
		return fmt.Errorf("simulated network: new RTT matrix has %d nodes, the network %d hosts", m.N, len(w.Hosts))
	}
	w.rtt.Store(m)
	return nil
}

// ConnectAll dials every pair once, all at the same time, as the DHT
// rendezvous eventually does on a live mesh, so each host sees all others
// as run members.
func (w *World) ConnectAll(ctx context.Context) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i, a := range w.Hosts {
		for j, b := range w.Hosts[i+1:] {
			wg.Go(func() {
				if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("simulated network: host %d dialing host %d: %w", i, i+1+j, err))
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close shuts the hosts, then the network, so no packet is left in flight.
func (w *World) Close() {
	for _, h := range w.Hosts {
		_ = h.Close()
	}
	w.net.Close()
}
