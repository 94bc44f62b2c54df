package p2p

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// every is the lookup interval of the rendezvous tests.
const every = 200 * time.Millisecond

func TestRunNamespace(t *testing.T) {
	ns := RunNamespace("test-run")
	if !strings.HasPrefix(ns, "gradmesh/run/") || len(ns) != len("gradmesh/run/")+32 {
		t.Fatalf("RunNamespace = %q, want gradmesh/run/ and 32 hex digits", ns)
	}
	if RunNamespace("test-run") != ns {
		t.Error("RunNamespace is not deterministic")
	}
	if RunNamespace("test-run2") == ns || RunNamespace("") == ns {
		t.Error("different runs share a namespace")
	}
}

// directlyConnected reports whether a has a direct (not relayed) connection
// to b.
func directlyConnected(a, b *Host) bool {
	for _, c := range a.Network().ConnsToPeer(b.ID()) {
		if !c.Stat().Limited && !isCircuit(c.RemoteMultiaddr()) {
			return true
		}
	}
	return false
}

func isCircuit(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// TestJoinRunRendezvous: B and C know only A; joining the same run, they find
// each other through the DHT rendezvous and connect directly. D, in another
// run, is not a peer of theirs.
func TestJoinRunRendezvous(t *testing.T) {
	a := newTestHost(t, Config{})
	boot := a.Addrs()
	b := newTestHost(t, Config{Bootstrap: boot})
	c := newTestHost(t, Config{Bootstrap: boot})
	d := newTestHost(t, Config{Bootstrap: boot})
	for _, h := range []*Host{a, b, c} {
		joinRun(t, h, "test-run", every)
	}
	joinRun(t, d, "other-run", every)

	waitFor(t, 10*time.Second, "B and C to find each other in the run", func() bool {
		return hasRunPeer(b, "test-run", c.ID()) && hasRunPeer(c, "test-run", b.ID())
	})
	waitFor(t, 5*time.Second, "a direct B–C connection", func() bool {
		return directlyConnected(b, c) && directlyConnected(c, b)
	})
	if v := b.cm.GetTagInfo(c.ID()); v == nil || v.Tags["gradmesh-run:"+RunNamespace("test-run")] != runPeerTagValue {
		t.Errorf("B's connection manager does not tag C as a run peer: %+v", v)
	}
	if !hasRunPeer(b, "test-run", a.ID()) {
		waitFor(t, 5*time.Second, "B to find A in the run", func() bool { return hasRunPeer(b, "test-run", a.ID()) })
	}
	for _, h := range []*Host{a, b, c} {
		if hasRunPeer(h, "test-run", d.ID()) {
			t.Errorf("%s found D, which joined another run", h.ID())
		}
		if hasRunPeer(h, "test-run", h.ID()) {
			t.Errorf("%s lists itself as a run peer", h.ID())
		}
	}
	if hasRunPeer(d, "other-run", b.ID()) || hasRunPeer(d, "test-run", b.ID()) {
		t.Error("D found B, which joined another run")
	}
}

// TestJoinRunRecoversFromIsolation: B loses its only run peer C; a new peer D
// joins through the same bootstrap peer, and B finds it.
func TestJoinRunRecoversFromIsolation(t *testing.T) {
	a := newTestHost(t, Config{}) // bootstrap only, not in the run
	boot := a.Addrs()
	b := newTestHost(t, Config{Bootstrap: boot})
	joinRun(t, b, "test-run", every)
	c, err := New(t.Context(), Config{Key: newKey(t), Listen: []string{loopTCP, loopQUIC}, Bootstrap: boot, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	joinRun(t, c, "test-run", every)
	waitFor(t, 10*time.Second, "B to find and connect to C", func() bool {
		return hasRunPeer(b, "test-run", c.ID()) && connected(b, c)
	})

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "B to notice C is gone", func() bool {
		return b.Network().Connectedness(c.ID()) != network.Connected
	})

	d := newTestHost(t, Config{Bootstrap: boot})
	joinRun(t, d, "test-run", every)
	waitFor(t, 10*time.Second, "B to find and connect to D", func() bool {
		return hasRunPeer(b, "test-run", d.ID()) && connected(b, d)
	})
}

// TestJoinRunRetriesABootstrapPeerThatWasNotUpYet: peers of a mesh often
// start together, so a peer's bootstrap peer may not listen yet when it
// dials; the peer must keep trying and join once the bootstrap peer is up.
func TestJoinRunRetriesABootstrapPeerThatWasNotUpYet(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // free the port for the bootstrap peer that starts later
	bootKey := newKey(t)
	bootID, err := peer.IDFromPrivateKey(bootKey)
	if err != nil {
		t.Fatal(err)
	}
	bootAddr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", port, bootID)
	early := newTestHost(t, Config{Key: newKey(t), Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: []string{bootAddr}})
	joinRun(t, early, "late-bootstrap", 100*time.Millisecond)
	boot := newTestHost(t, Config{Key: bootKey, Listen: []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}})
	joinRun(t, boot, "late-bootstrap", 100*time.Millisecond)
	waitFor(t, 10*time.Second, "the early peer to reach its late bootstrap peer", func() bool { return connected(early, boot) })
}
