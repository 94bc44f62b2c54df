package gossip

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/wire"
)

// CapabilityStatus is what a member announced it brings, from its latest
// heartbeat: the device its steps run on and its measured throughput. The
// values are the member's own claims, shown as they came.
type CapabilityStatus struct {
	PeerID            string  `json:"peer_id"`
	Device            string  `json:"device"`              // "cpu", or the GPU's name while it lends one
	DeviceMemoryBytes uint64  `json:"device_memory_bytes"` // GPU memory it may use; 0 for the CPU
	SamplesPerSec     float64 `json:"samples_per_sec"`
	UplinkMbps        float64 `json:"uplink_mbps"` // 0: not stated
	Neighbor          bool    `json:"neighbor"`    // an active link of this peer
}

// capabilityTable keeps each member's latest announced capability for
// /status. It is written by the heartbeat reader and read by Status, so it
// has its own lock.
type capabilityTable struct {
	mu   sync.Mutex
	caps map[peer.ID]CapabilityStatus
}

func (t *capabilityTable) note(from peer.ID, hb *wire.Heartbeat) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.caps == nil {
		t.caps = map[peer.ID]CapabilityStatus{}
	}
	t.caps[from] = CapabilityStatus{PeerID: from.String(), Device: hb.Device.Name,
		DeviceMemoryBytes: hb.Device.MemoryBytes, SamplesPerSec: float64(hb.SamplesPerSec), UplinkMbps: float64(hb.UplinkKbps) / 1000}
}

func (t *capabilityTable) forget(id peer.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.caps, id)
}

// list returns the capabilities, by peer ID, marking the active links.
func (t *capabilityTable) list(links []link) []CapabilityStatus {
	t.mu.Lock()
	out := make([]CapabilityStatus, 0, len(t.caps))
	for id, c := range t.caps {
		c.Neighbor = slices.ContainsFunc(links, func(l link) bool { return l.id == id })
		out = append(out, c)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b CapabilityStatus) int { return cmp.Compare(a.PeerID, b.PeerID) })
	return out
}

// device is what this peer announces it computes on: the lent GPU while its
// steps run there, with the memory it may use, else PeerConfig.Device.
func (p *Peer) device() wire.Device {
	if p.cfg.GPUStatus == nil {
		return p.cfg.Device
	}
	g := p.cfg.GPUStatus()
	if g.State != "idle-contributing" {
		return p.cfg.Device
	}
	return wire.Device{Name: announceableName(g.Name, "gpu"), MemoryBytes: min(g.MemoryBudgetBytes, wire.MaxDeviceMemory)}
}

// announceableName makes a device name fit a heartbeat: printable UTF-8 of
// at most wire.MaxDeviceNameBytes, cut at a character boundary; fallback if
// nothing printable is left.
func announceableName(name, fallback string) string {
	name = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(name))
	for len(name) > wire.MaxDeviceNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name = strings.TrimSpace(name); name == "" {
		return fallback
	}
	return name
}
