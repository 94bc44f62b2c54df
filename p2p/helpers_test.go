package p2p

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Loopback listen addresses for tests.
var (
	loopTCP  = "/ip4/127.0.0.1/tcp/0"
	loopQUIC = "/ip4/127.0.0.1/udp/0/quic-v1"
)

// testLogger discards logs unless GRADMESH_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("GRADMESH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newKey(t *testing.T) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newTestHost starts a host on loopback (TCP and QUIC unless cfg.Listen says
// otherwise) with a fresh key, closed when the test ends.
func newTestHost(t *testing.T, cfg Config) *Host {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = newKey(t)
	}
	if cfg.Listen == nil {
		cfg.Listen = []string{loopTCP, loopQUIC}
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// joinRun runs h.JoinRun until the test ends.
func joinRun(t *testing.T, h *Host, run string, every time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.JoinRun(ctx, run, every)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// waitFor polls cond every 10 ms until it holds, failing the test with what
// after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

func connected(a, b *Host) bool {
	return a.Network().Connectedness(b.ID()) == network.Connected
}

func hasRunPeer(h *Host, run string, id peer.ID) bool {
	for _, p := range h.runPeers(run) {
		if p == id {
			return true
		}
	}
	return false
}
