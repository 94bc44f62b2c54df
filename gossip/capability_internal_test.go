package gossip

import (
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/wire"
)

func TestPeerAnnouncesTheLentGPU(t *testing.T) {
	var g GPUStatus
	p := &Peer{cfg: PeerConfig{Device: wire.Device{Name: "cpu"}, GPUStatus: func() GPUStatus { return g }}}
	for _, c := range []struct {
		gpu  GPUStatus
		want wire.Device
	}{
		{GPUStatus{State: "idle-contributing", Name: "NVIDIA H200 141GB HBM3e", MemoryBudgetBytes: 140 << 30}, wire.Device{Name: "NVIDIA H200 141GB HBM3e", MemoryBytes: 140 << 30}},
		{GPUStatus{State: "yielded", Name: "NVIDIA H200 141GB HBM3e"}, wire.Device{Name: "cpu", MemoryBytes: 0}},
		{GPUStatus{State: "no-gpu"}, wire.Device{Name: "cpu", MemoryBytes: 0}},
		{GPUStatus{State: "idle-contributing", Name: "\x00\x07", MemoryBudgetBytes: 1 << 60}, wire.Device{Name: "gpu", MemoryBytes: wire.MaxDeviceMemory}},
	} {
		g = c.gpu
		if got := p.device(); got != c.want {
			t.Errorf("GPU %+v: announces %+v, want %+v", c.gpu, got, c.want)
		}
		hb := wire.Heartbeat{DataWeight: 1, Device: p.device()}
		if _, err := hb.Marshal(); err != nil {
			t.Errorf("GPU %+v: the heartbeat would be refused: %v", c.gpu, err)
		}
	}
	p.cfg.GPUStatus = nil
	if got := p.device(); got != (wire.Device{Name: "cpu", MemoryBytes: 0}) {
		t.Errorf("without a GPU status: %+v", got)
	}
}

func TestAnnounceableName(t *testing.T) {
	long := strings.Repeat("Ä", 40) // 80 bytes
	for in, want := range map[string]string{
		"NVIDIA H200 141GB HBM3e": "NVIDIA H200 141GB HBM3e",
		"  Tesla\tT4\n ":          "TeslaT4",
		long:                      strings.Repeat("Ä", 32),
		"\xff\xfe":                "gpu",
		"":                        "gpu",
	} {
		got := announceableName(in, "gpu")
		if got != want || len(got) > wire.MaxDeviceNameBytes || wire.CheckDeviceName(got) != nil {
			t.Errorf("announceableName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCapabilityTable(t *testing.T) {
	var tab capabilityTable
	a, b := peer.ID("\x00\x05aaaaa"), peer.ID("\x00\x05bbbbb")
	tab.note(b, &wire.Heartbeat{SamplesPerSec: 900, Device: wire.Device{Name: "cpu"}})
	tab.note(a, &wire.Heartbeat{SamplesPerSec: 41000, Device: wire.Device{Name: "NVIDIA H200", MemoryBytes: 8 << 30}})
	tab.note(a, &wire.Heartbeat{SamplesPerSec: 42000, Device: wire.Device{Name: "NVIDIA H200", MemoryBytes: 8 << 30}})
	got := tab.list([]link{{id: b}})
	if len(got) != 2 || got[0].PeerID != a.String() || got[0].SamplesPerSec != 42000 || got[0].Neighbor ||
		got[1].PeerID != b.String() || got[1].Device != "cpu" || !got[1].Neighbor {
		t.Fatalf("%+v", got)
	}
	tab.forget(a)
	if got := tab.list(nil); len(got) != 1 || got[0].PeerID != b.String() {
		t.Fatalf("after forgetting a: %+v", got)
	}
}
