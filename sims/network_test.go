package sims

import (
	"context"
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

// TestLinkQueuesSerializeBothEnds: a peer's uplink sends its messages one
// after another; a peer's downlink receives what reaches it one after
// another, in order of arrival.
func TestLinkQueuesSerializeBothEnds(t *testing.T) {
	const (
		delay = 0.010
		bytes = 125_000 // 1 Mbit
	)
	nw := UniformNetwork(3, delay, 10e6) // 0.1 s per message up
	nw.DownlinkBitsPerSec = []float64{4e6, 0, 100e6}
	l := newLinkQueues(nw)
	up, down0 := 0.1, 0.25

	// Peer 0 sends to 1 and 2 at once: the second message waits for the first.
	if a := l.send(0, 1, bytes, 0); !near(a, up+delay) {
		t.Fatalf("first message arrives at %g, want %g", a, up+delay)
	}
	if a := l.send(0, 2, bytes, 0); !near(a, 2*up+delay) {
		t.Fatalf("second message arrives at %g, want %g (after the first left the uplink)", a, 2*up+delay)
	}
	// An idle uplink sends at once.
	if a := l.send(0, 1, bytes, 5); !near(a, 5+up+delay) {
		t.Fatalf("message sent on an idle uplink at 5 s arrives at %g, want %g", a, 5+up+delay)
	}

	// Peers 1 and 2 both send to 0; their messages arrive together and 0's
	// slow downlink takes them one at a time.
	a1, a2 := l.send(1, 0, bytes, 0), l.send(2, 0, bytes, 0)
	if !l.queuesAtDownlink(0) || l.queuesAtDownlink(1) {
		t.Fatal("peer 0 (4 Mbit/s) must queue at its downlink and peer 1 (unlimited) must not")
	}
	r1 := l.receive(0, bytes, a1)
	r2 := l.receive(0, bytes, a2)
	if !near(r1, up+delay+down0) || !near(r2, up+delay+2*down0) {
		t.Fatalf("received at %g and %g, want %g and %g", r1, r2, up+delay+down0, up+delay+2*down0)
	}
	// A message arriving after the downlink is idle again is not held back.
	if r := l.receive(0, bytes, 10); !near(r, 10+down0) {
		t.Fatalf("message arriving at an idle downlink at 10 s received at %g, want %g", r, 10+down0)
	}
}

func TestReplaceDelaysAt(t *testing.T) {
	nw := UniformNetwork(2, 0.010, 8e6) // 1 s to send 1 MB
	later := []float64{0, 0.500, 0.500, 0}
	if err := nw.ReplaceDelaysAt(2, later); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ at, want float64 }{{0, 0.010}, {1.999, 0.010}, {2, 0.500}, {100, 0.500}} {
		if got := nw.OneWayAt(0, 1, c.at); got != c.want {
			t.Errorf("delay at %g s: %g, want %g", c.at, got, c.want)
		}
	}
	// A message handed to the uplink before the change but leaving it after
	// takes the new delay; one that left before keeps the old one.
	l := newLinkQueues(nw)
	if a := l.send(0, 1, 1e6, 0.5); !near(a, 1.5+0.010) {
		t.Fatalf("left at 1.5 s: arrives %g, want %g with the old delay", a, 1.510)
	}
	if a := l.send(0, 1, 1e6, 0.6); !near(a, 2.5+0.500) {
		t.Fatalf("queued behind it, left at 2.5 s: arrives %g, want %g with the new delay", a, 3.0)
	}

	bad := []struct {
		at     float64
		oneWay []float64
		want   string
	}{
		{2, later, "not after the previous replacement at 2 s"},
		{0, later, "time > 0"},
		{math.NaN(), later, "time > 0"},
		{3, []float64{0, 1, 1}, "3 entries for 2 peers"},
		{3, []float64{0, -1, 1, 0}, "from peer 0 to 1 is -1 s"},
	}
	for _, c := range bad {
		if err := nw.ReplaceDelaysAt(c.at, c.oneWay); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReplaceDelaysAt(%g, %v): error %v, want one mentioning %q", c.at, c.oneWay, err, c.want)
		}
	}
}

func TestNetworkValidate(t *testing.T) {
	cases := []struct {
		edit func(*Network)
		want string
	}{
		{func(nw *Network) { nw.OneWay = nw.OneWay[:3] }, "3 entries for 2 peers"},
		{func(nw *Network) { nw.OneWay[1] = math.Inf(1) }, "from peer 0 to 1"},
		{func(nw *Network) { nw.UplinkBitsPerSec = []float64{1} }, "1 uplink rates for 2 peers"},
		{func(nw *Network) { nw.DownlinkBitsPerSec = []float64{1, math.NaN()} }, "peer 1's downlink rate is NaN"},
	}
	for _, c := range cases {
		nw := UniformNetwork(2, 0.01, 1e6)
		if err := nw.Validate(); err != nil {
			t.Fatalf("uniform network invalid: %v", err)
		}
		c.edit(nw)
		if err := nw.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one mentioning %q", err, c.want)
		}
	}
	// The engine checks the network before it runs.
	s := smallSpec()
	e, err := s.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	e.Network.DownlinkBitsPerSec = []float64{1}
	if _, err := e.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "downlink rates") {
		t.Fatalf("run on a broken network: error %v", err)
	}
}

// twoPeerRun runs adapt-then-combine D-PSGD on two peers, so that every round
// costs the local step plus one message's trip, and returns the virtual time
// and the step and message sizes the costs depend on.
func twoPeerRun(t *testing.T, rounds int, network func(step float64, msgBytes int) *Network) (virtual, step float64) {
	t.Helper()
	s := smallSpec()
	s.Peers, s.Topology, s.Mix, s.Rounds = 2, "complete", "atc", rounds
	e, err := s.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	step = e.Model.TrainFLOPs() * float64(e.Batch) / e.PeerFLOPS
	e.Network = network(step, e.MessageBytes())
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res.VirtualSeconds, step
}

// TestSlowDownlinkDelaysDelivery: a round costs the step, the sender's
// uplink, the delay and the receiver's downlink, store and forward.
func TestSlowDownlinkDelaysDelivery(t *testing.T) {
	var up, delay, down float64
	for _, downlink := range []float64{0, 2e6} {
		got, step := twoPeerRun(t, 10, func(step float64, msgBytes int) *Network {
			delay = step
			nw := UniformNetwork(2, delay, 8e6)
			up, down = float64(msgBytes)*8/8e6, 0
			if downlink > 0 {
				nw.DownlinkBitsPerSec = []float64{downlink, downlink}
				down = float64(msgBytes) * 8 / downlink
			}
			return nw
		})
		if want := 10 * (step + up + delay + down); !near(got, want) {
			t.Errorf("downlink %g bit/s: %g virtual s, want %g = 10 × (step %g + up %g + delay %g + down %g)",
				downlink, got, want, step, up, delay, down)
		}
	}
}

// TestDownlinkQueuesMessagesFromSeveralPeers: three peers that all send to
// each other at once; each receiver's downlink takes the two messages one
// after the other, so a round costs two downlink times.
func TestDownlinkQueuesMessagesFromSeveralPeers(t *testing.T) {
	s := smallSpec()
	s.Peers, s.Topology, s.Mix, s.Rounds = 3, "complete", "atc", 10
	e, err := s.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	step := e.Model.TrainFLOPs() * float64(e.Batch) / e.PeerFLOPS
	down := float64(e.MessageBytes()) * 8 / 1e6
	e.Network = UniformNetwork(3, step, 0)
	e.Network.DownlinkBitsPerSec = []float64{1e6, 1e6, 1e6}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := 10 * (step + step + 2*down); !near(res.VirtualSeconds, want) {
		t.Fatalf("%g virtual s, want %g = 10 × (step + delay + 2 × downlink %g)", res.VirtualSeconds, want, down)
	}
}

// TestDelaysReplacedMidRun: from virtual time X on, messages take the new
// delay; the one in flight at X keeps the old one.
func TestDelaysReplacedMidRun(t *testing.T) {
	const rounds = 8
	var before, after float64
	got, step := twoPeerRun(t, rounds, func(step float64, _ int) *Network {
		before, after = step, 5*step
		nw := UniformNetwork(2, before, 0)
		// Round 3's message leaves at 2(step+before)+step and is in flight
		// when the delays change half a delay before it lands.
		if err := nw.ReplaceDelaysAt(3*(step+before)-before/2, []float64{0, after, after, 0}); err != nil {
			t.Fatal(err)
		}
		return nw
	})
	if want := 3*(step+before) + (rounds-3)*(step+after); !near(got, want) {
		t.Fatalf("%g virtual s, want %g: 3 rounds at the old delay, %d at the new", got, want, rounds-3)
	}
}
