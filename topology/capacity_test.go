package topology

import (
	"slices"
	"testing"
	"time"
)

// MNIST's MLP 784-64-10 (50,890 parameters) with its 64-byte framing, and
// the 64-feature digits MLP (4,810 parameters).
const (
	mnistMessageBytes  = 4*50890 + 64
	digitsMessageBytes = 4*4810 + 64
)

func TestLinkCapacity(t *testing.T) {
	cfg := SelectConfig{MessageBytes: mnistMessageBytes}.WithDefaults()
	// 100 Mbit/s sends one MNIST model in 16.3 ms: 6 fit in 100 ms.
	budget := cfg.uplinkBudget([]float64{100e6, 100e6})
	if budget != 100*time.Millisecond {
		t.Fatalf("budget with every uplink at 100 Mbit/s: %v, want the configured 100ms", budget)
	}
	for _, c := range []struct {
		bps  float64
		want int
	}{{100e6, 6}, {1e9, 8}, {20e6, 1}, {1e3, 1}, {0, 0}, {-5, 0}} {
		if got := cfg.linkCapacity(c.bps, budget); got != c.want {
			t.Errorf("capacity at %g bit/s: %d links, want %d", c.bps, got, c.want)
		}
	}

	// The slowest announced uplink stretches the budget to two of its
	// messages: rounds cannot be shorter, so faster peers may fill it.
	digits := SelectConfig{MessageBytes: digitsMessageBytes}.WithDefaults()
	slow := digits.uplinkBudget([]float64{0.5e6, 1.1e6, 0, 50e6})
	if want := 2 * digits.sendTime(0.5e6); slow != want || want < 600*time.Millisecond {
		t.Fatalf("budget with a 0.5 Mbit/s uplink: %v, want two of its messages, %v", slow, want)
	}
	if got := digits.linkCapacity(0.5e6, slow); got != 2 {
		t.Errorf("the slowest uplink takes %d links, want 2", got)
	}
	if got := digits.linkCapacity(1.1e6, slow); got != 4 {
		t.Errorf("a 1.1 Mbit/s uplink takes %d links within %v, want 4", got, slow)
	}

	// No caps when nothing is known, under random, or with the budget off.
	for name, c := range map[string]SelectConfig{
		"no message size": SelectConfig{}.WithDefaults(),
		"random":          SelectConfig{Policy: PolicyRandom, MessageBytes: mnistMessageBytes}.WithDefaults(),
		"budget off":      SelectConfig{MessageBytes: mnistMessageBytes, UplinkBudget: -1}.WithDefaults(),
	} {
		if b := c.uplinkBudget([]float64{1e6}); b != 0 {
			t.Errorf("%s: budget %v, want 0 (no caps)", name, b)
		}
	}
	if b := cfg.uplinkBudget([]float64{0, 0}); b != 0 {
		t.Errorf("no announced rate: budget %v, want 0", b)
	}
}

// TestViewCapsASlowPeer: a peer whose uplink allows 2 links proposes one,
// accepts one inbound proposal (the fastest), and is predicted to refuse
// the rest; every member derives the same from the announcements.
func TestViewCapsASlowPeer(t *testing.T) {
	cfg := SelectConfig{MessageBytes: mnistMessageBytes}.WithDefaults()
	ms := time.Millisecond
	anns := []Announcement{
		// 35 Mbit/s: 46.5 ms per copy, 2 within 100 ms.
		{From: "slow", UplinkBitsPerSec: 35e6, Proposals: []Link{{ID: "a", RTT: 5 * ms}, {ID: "b", RTT: 6 * ms}, {ID: "c", Long: true, RTT: 90 * ms}}},
		{From: "a", UplinkBitsPerSec: 1e9, Proposals: []Link{{ID: "slow", RTT: 5 * ms}}},
		{From: "b", UplinkBitsPerSec: 1e9, Proposals: []Link{{ID: "slow", RTT: 6 * ms}}},
		{From: "c", UplinkBitsPerSec: 1e9, Proposals: []Link{{ID: "slow", RTT: 4 * ms}}},
		{From: "d", Proposals: []Link{{ID: "slow", RTT: 3 * ms}}},
	}
	v := NewView(cfg, anns)
	if got := v.MaxLinks("slow"); got != 2 {
		t.Fatalf("slow peer's cap: %d, want 2", got)
	}
	if got := v.MaxLinks("a"); got != 0 {
		t.Errorf("fast peer's cap: %d, want 0 (MaxDegree applies)", got)
	}
	if got := v.MaxLinks("d"); got != 0 {
		t.Errorf("a peer that states no rate: cap %d, want 0", got)
	}
	// Own proposals first (one: the cap minus a place for inbound), then
	// the fastest inbound proposal.
	acc := v.Accepted("slow")
	ids := make([]string, len(acc))
	for i, l := range acc {
		ids[i] = l.ID
	}
	if !slices.Equal(ids, []string{"a", "d"}) {
		t.Errorf("slow peer accepts %v, want [a d] (its nearest proposal, then the fastest inbound one)", ids)
	}
	if v.Degree("slow") != 2 || v.Degree("b") != 0 || v.Degree("c") != 0 {
		t.Errorf("degrees: slow %d, b %d, c %d; want 2, 0, 0", v.Degree("slow"), v.Degree("b"), v.Degree("c"))
	}
	if v.wouldAccept("slow", "e") {
		t.Error("a full slow peer is predicted to accept a new proposal")
	}
}

// TestOverlayFollowsUplinks: on a rural 5G network of 200 devices whose
// uplinks span 0.3 to 50 Mbit/s, no peer takes more links than its uplink
// sends in one round's budget, every peer keeps at least one, and the mesh
// stays connected. Without caps, the slowest uplink carries several links
// and so sets a round several times longer.
func TestOverlayFollowsUplinks(t *testing.T) {
	ec := EdgeRural5G()
	ec.Devices = 200
	en, err := GenerateEdge(ec, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := SelectConfig{Seed: 1, MessageBytes: digitsMessageBytes}.WithDefaults()
	ids := peerNames(ec.Devices)
	uplinks := make([]float64, ec.Devices)
	for i := range uplinks {
		uplinks[i] = en.UplinkBitsPerSec(i)
	}
	budget := cfg.uplinkBudget(uplinks)
	// roundFloor is the longest any uplink takes to send one copy per link.
	roundFloor := func(o *Overlay) time.Duration {
		var worst time.Duration
		for i, adj := range o.Graph.Adj {
			worst = max(worst, time.Duration(len(adj))*cfg.sendTime(uplinks[i]))
		}
		return worst
	}

	o, _, err := BuildOverlayFunc(ids, en.RTT, en.RTT, cfg, nil, uplinks, nil)
	if err != nil {
		t.Fatalf("capped overlay: %v", err)
	}
	capped := 0
	for i, adj := range o.Graph.Adj {
		c := o.MaxLinks(i)
		if want := cfg.linkCapacity(uplinks[i], budget); c != want && !(want == cfg.MaxDegree && c == 0) {
			t.Errorf("peer %d: cap %d, want %d", i, c, want)
		}
		if c > 0 {
			capped++
			if c < 2 || len(adj) > c {
				t.Errorf("peer %d has %d links with a cap of %d, want 2 ≤ cap, links ≤ cap", i, len(adj), c)
			}
		}
		if len(adj) == 0 {
			t.Errorf("peer %d has no link", i)
		}
	}
	if capped == 0 {
		t.Fatal("no device is slow enough to be capped: the test no longer covers caps")
	}
	floor := roundFloor(o)
	if floor > budget {
		t.Errorf("some uplink needs %v per round, over the budget of %v", floor, budget)
	}

	free, _, err := BuildOverlay(ids, en.RTT, en.RTT, cfg, nil)
	if err != nil {
		t.Fatalf("uncapped overlay: %v", err)
	}
	if uncapped := roundFloor(free); uncapped < 2*floor {
		t.Errorf("uncapped, the slowest uplink needs %v per round, capped %v: want caps to at least halve it", uncapped, floor)
	}
	t.Logf("%d devices, %d capped; budget %v; slowest uplink per round: %v capped, %v uncapped",
		ec.Devices, capped, budget.Round(time.Millisecond), floor.Round(time.Millisecond), roundFloor(free).Round(time.Millisecond))
}
