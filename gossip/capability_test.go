package gossip_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/topology"
)

// TestMembersSeeEachOthersDevice: a peer training on a lent GPU announces
// the GPU and the memory it may use; once it yields, it announces the CPU
// again. Its neighbor lists both in /status as they change.
func TestMembersSeeEachOthersDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("live mesh test: real libp2p hosts on loopback")
	}
	f := newMeshFixture(t, "mlp:16", 2, 200, 1)
	f.neighbors.Policy = topology.PolicyLatency // one link, near
	var lent atomic.Bool
	lent.Store(true)
	f.gpu = map[int]func() gossip.GPUStatus{0: func() gossip.GPUStatus {
		if lent.Load() {
			return gossip.GPUStatus{State: "idle-contributing", Device: 0, Name: "NVIDIA H200 141GB HBM3e", MemoryBudgetBytes: 8 << 30}
		}
		return gossip.GPUStatus{State: "yielded", Device: 0, Name: "NVIDIA H200 141GB HBM3e"}
	}}
	f.gate.set(3) // hold both peers early in the run, heartbeating
	a, b := f.start(0), f.start(1)
	defer a.kill()
	defer b.kill()
	capabilityOf := func(of, from *livePeer) (gossip.CapabilityStatus, bool) {
		for _, c := range of.peer.Status().Capabilities {
			if c.PeerID == from.host.ID().String() {
				return c, true
			}
		}
		return gossip.CapabilityStatus{}, false
	}
	waitFor(t, "peer 1 to see peer 0's GPU", 30*time.Second, func() bool {
		c, ok := capabilityOf(b, a)
		return ok && c.Device == "NVIDIA H200 141GB HBM3e" && c.DeviceMemoryBytes == 8<<30 && c.Neighbor
	})
	waitFor(t, "peer 0 to see peer 1's CPU", 30*time.Second, func() bool {
		c, ok := capabilityOf(a, b)
		return ok && c.Device == "cpu" && c.DeviceMemoryBytes == 0
	})
	lent.Store(false)
	waitFor(t, "peer 1 to see peer 0 back on the CPU", 30*time.Second, func() bool {
		c, ok := capabilityOf(b, a)
		return ok && c.Device == "cpu" && c.DeviceMemoryBytes == 0
	})
	f.gate.set(1 << 30)
}
