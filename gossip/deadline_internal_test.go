package gossip

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// TestRoundDeadlineIgnoresExpiredRounds: rounds that ended by deadline do
// not feed the round-time average (their length is the deadline itself),
// consecutive ones double the next deadline, and the first complete round
// resets the doubling and is averaged in.
func TestRoundDeadlineIgnoresExpiredRounds(t *testing.T) {
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	p := &Peer{cfg: PeerConfig{MaxRoundTimeout: 5 * time.Second}}
	if got := p.roundTimeout(); got != 5*time.Second {
		t.Fatalf("untimed: deadline %v, want MaxRoundTimeout 5s", got)
	}
	steps := []struct {
		expired bool
		elapsed time.Duration
		want    time.Duration // the next deadline
	}{
		{false, ms(100), ms(400)},
		{false, ms(100), ms(400)},
		{true, ms(400), ms(800)},  // no sample: 4 × 100 ms, doubled once
		{true, ms(800), ms(1600)}, // doubled again
		{false, ms(300), ms(600)}, // a true sample: EWMA (3·100+300)/4 = 150 ms, no doubling
		{true, ms(600), ms(1200)},
		{true, ms(1200), ms(2400)},
		{true, ms(2400), ms(4800)},
		{true, ms(4800), 5 * time.Second}, // capped
	}
	for i, s := range steps {
		p.expired = s.expired
		p.noteRoundTime(s.elapsed)
		if got := p.roundTimeout(); got != s.want {
			t.Fatalf("step %d (expired %v, %v): next deadline %v, want %v", i, s.expired, s.elapsed, got, s.want)
		}
	}
}

// TestRoundWaitsForLaggards: when a round's deadline fires, it waits on
// while it misses only long neighbors' halves of the exchange it closes
// and every one of them is behind the exchange's opening round (by
// heartbeat or by the shards it sent), or while a near neighbor it misses
// is more than Window/2 rounds behind; it ends at once when a near vector
// from a neighbor less far behind is missing, when a long neighbor is past
// the exchange's round (its half was lost), when a neighbor is more than
// Window rounds behind (it will catch up by fetching the model), or when
// the round has waited MaxRoundTimeout.
func TestRoundWaitsForLaggards(t *testing.T) {
	const a, b = training.PeerID("a"), training.PeerID("b")
	p := &Peer{cfg: PeerConfig{MaxRoundTimeout: 5 * time.Second}, roundEWMA: 50 * time.Millisecond,
		heard: map[peer.ID]*heardBeat{}, sentRound: map[peer.ID]uint64{}}
	p.cfg.Neighbors.LongPeriod = 2
	p.roundStart = time.Now()
	p.heard[peer.ID(a)] = &heardBeat{Heartbeat: wire.Heartbeat{Round: 7}}
	// Round 10 closes the exchange opened in round 8.
	cases := []struct {
		name       string
		near, long []training.PeerID
		sentB      uint64
		wait       bool
	}{
		{"nothing missing", nil, nil, 0, false},
		{"long neighbor behind by heartbeat", nil, []training.PeerID{a}, 0, true},
		{"long neighbor known only by a shard of round 2", nil, []training.PeerID{b}, 2, true},
		{"long neighbor past the exchange's round 8", nil, []training.PeerID{b}, 8, false},
		{"one behind, one past", nil, []training.PeerID{a, b}, 9, false},
		{"a near vector missing too", []training.PeerID{b}, []training.PeerID{a}, 8, false},
		{"a near neighbor 2 rounds behind", []training.PeerID{b}, nil, 8, false},
		{"a near neighbor 5 rounds behind", []training.PeerID{b}, nil, 5, true},
		{"a near neighbor 9 rounds behind", []training.PeerID{b}, nil, 1, false},
	}
	for _, c := range cases {
		p.sentRound[peer.ID(b)] = c.sentB
		if got := p.waitForLaggards(10, c.near, c.long); (got > 0) != c.wait {
			t.Errorf("%s: wait %v, want waiting %v", c.name, got, c.wait)
		}
	}
	delete(p.sentRound, peer.ID(b))
	if got := p.waitForLaggards(20, nil, []training.PeerID{b}); got != 0 {
		t.Error("round 20, a long neighbor never heard from, more than Window rounds behind: the round waits")
	}
	if got := p.waitForLaggards(4, nil, []training.PeerID{b}); got == 0 {
		t.Error("round 4, a long neighbor not heard from yet (it starts later): the round does not wait")
	}
	p.roundStart = time.Now().Add(-5 * time.Second)
	if got := p.waitForLaggards(10, nil, []training.PeerID{a}); got != 0 {
		t.Errorf("after MaxRoundTimeout: waits %v more", got)
	}
}
