package gossip_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"github.com/gradmesh/gradmesh/topology"
)

// TestSimWorldDelaysPacketsByTheMatrix: a ping between two simulated hosts
// takes half of each direction's matrix RTT, in virtual time.
func TestSimWorldDelaysPacketsByTheMatrix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rtt := &topology.LatencyMatrix{N: 3, MS: []float64{
			0, 80, 10,
			120, 0, 10,
			10, 10, 0,
		}}
		w := newSimWorld(t, rtt, simLink{BitsPerSec: 100e6}, 1)
		defer w.close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := w.connectAll(ctx); err != nil {
			t.Fatal(err)
		}
		res := <-ping.Ping(ctx, w.hosts[0], w.hosts[1].ID())
		cancel()
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		// 80/2 out, 120/2 back; a ping is tiny, so queueing adds well under 1 ms.
		if want := 100 * time.Millisecond; res.RTT < want || res.RTT > want+time.Millisecond {
			t.Errorf("ping RTT %v, want %v", res.RTT, want)
		}
		if n := w.misses.Load(); n != 0 {
			t.Errorf("%d packets between unknown addresses", n)
		}
	})
}
