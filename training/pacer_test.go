package training

import (
	"testing"
	"time"
)

var epoch = time.Unix(1_000_000, 0)

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

// warm runs rounds of length elapsed, every vector in, until the smoothed
// round time is elapsed exactly (the EWMA's integer arithmetic gets there),
// and returns the time after the last.
func warm(t *testing.T, p *Pacer, now time.Time, elapsed time.Duration) time.Time {
	t.Helper()
	for range 200 {
		p.Begin(now)
		now = now.Add(elapsed)
		p.Finish(now)
	}
	if want := min(max(4*elapsed, p.cfg.MinRoundTimeout), p.cfg.MaxRoundTimeout); p.Timeout() != want {
		t.Fatalf("after 200 rounds of %v: deadline %v, want %v", elapsed, p.Timeout(), want)
	}
	return now
}

// TestDeadlinesComeDownFromTheMaximum: a pacer's first deadline is
// MaxRoundTimeout, and a first round that ended at once (its vectors were
// all there when it began) does not bring the next one down to the floor:
// deadlines come down over the rounds, each no longer than the one before.
func TestDeadlinesComeDownFromTheMaximum(t *testing.T) {
	p := NewPacer(PacerConfig{MaxRoundTimeout: 5 * time.Second})
	now := epoch
	if got := p.Begin(now); got != 5*time.Second {
		t.Fatalf("untimed: deadline %v, want MaxRoundTimeout 5s", got)
	}
	now = now.Add(ms(1))
	p.Finish(now)
	if got := p.Timeout(); got < 3*time.Second {
		t.Fatalf("after one 1 ms round: deadline %v, want it to stay above 3 s", got)
	}
	prev, rounds := p.Timeout(), 1
	for ; p.Timeout() > 100*time.Millisecond; rounds++ {
		p.Begin(now)
		now = now.Add(ms(1))
		p.Finish(now)
		if p.Timeout() > prev {
			t.Fatalf("round %d: deadline rose from %v to %v", rounds, prev, p.Timeout())
		}
		prev = p.Timeout()
	}
	if rounds > 20 {
		t.Errorf("the deadline took %d rounds of 1 ms to reach the 100 ms floor, want at most 20", rounds)
	}
}

// TestDeadlinesIgnoreRoundsEndedByDeadline: rounds that ended by deadline
// do not feed the round-time average (their length is the deadline
// itself), consecutive ones double the next deadline, and the first
// complete round resets the doubling and is averaged in.
func TestDeadlinesIgnoreRoundsEndedByDeadline(t *testing.T) {
	p := NewPacer(PacerConfig{MaxRoundTimeout: 5 * time.Second})
	now := warm(t, p, epoch, ms(100))
	p.Begin(now)
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
		if s.expired {
			if wait := p.Expire(now.Add(s.elapsed), 3, []PeerID{"gone"}, nil, func(PeerID) int { return 3 }); wait != 0 {
				t.Fatalf("step %d: a missing neighbor that is not behind holds the round %v more", i, wait)
			}
		}
		now = now.Add(s.elapsed)
		p.Finish(now)
		if got := p.Begin(now); got != s.want {
			t.Fatalf("step %d (expired %v, %v): next deadline %v, want %v", i, s.expired, s.elapsed, got, s.want)
		}
	}
}

// TestDeadlineFloor: however fast rounds are, a deadline is at least
// MinRoundTimeout.
func TestDeadlineFloor(t *testing.T) {
	p := NewPacer(PacerConfig{})
	warm(t, p, epoch, ms(1))
	if got := p.Timeout(); got != 100*time.Millisecond {
		t.Fatalf("after a 1 ms round: deadline %v, want the 100 ms floor", got)
	}
}

// TestDeadlinesDoubleFromTheFloor: when rounds have been far shorter than
// MinRoundTimeout, consecutive rounds ended by deadline double the
// deadline from MinRoundTimeout, so it soon outgrows a mesh that got
// slower and a round ends with every vector in again.
func TestDeadlinesDoubleFromTheFloor(t *testing.T) {
	p := NewPacer(PacerConfig{MaxRoundTimeout: 5 * time.Second})
	now := warm(t, p, epoch, ms(1))
	for i, want := range []time.Duration{ms(200), ms(400), ms(800), ms(1600), ms(3200), 5 * time.Second, 5 * time.Second} {
		deadline := p.Begin(now)
		now = now.Add(deadline)
		if wait := p.Expire(now, 3+i, []PeerID{"slow"}, nil, func(PeerID) int { return 3 + i }); wait != 0 {
			t.Fatalf("round %d: waits %v more for a neighbor at its own round", i, wait)
		}
		p.Finish(now)
		if got := p.Timeout(); got != want {
			t.Fatalf("after %d rounds ended by deadline: next deadline %v, want %v", i+1, got, want)
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
	const a, b = PeerID("a"), PeerID("b")
	cases := []struct {
		name       string
		round      int
		near, long []PeerID
		knownB     int
		wait       bool
	}{
		// Round 10 closes the exchange opened in round 8; a is known at round 7.
		{"nothing missing", 10, nil, nil, 0, false},
		{"long neighbor behind", 10, nil, []PeerID{a}, 0, true},
		{"long neighbor known only at round 2", 10, nil, []PeerID{b}, 2, true},
		{"long neighbor past the exchange's round 8", 10, nil, []PeerID{b}, 8, false},
		{"one behind, one past", 10, nil, []PeerID{a, b}, 9, false},
		{"a near vector missing too", 10, []PeerID{b}, []PeerID{a}, 8, false},
		{"a near neighbor 2 rounds behind", 10, []PeerID{b}, nil, 8, false},
		{"a near neighbor 5 rounds behind", 10, []PeerID{b}, nil, 5, true},
		{"a near neighbor 9 rounds behind", 10, []PeerID{b}, nil, 1, false},
		{"a long neighbor more than Window rounds behind", 20, nil, []PeerID{b}, 0, false},
		{"a long neighbor not heard yet, early in the run", 4, nil, []PeerID{b}, 0, true},
	}
	for _, c := range cases {
		p := NewPacer(PacerConfig{MaxRoundTimeout: 5 * time.Second, LongPeriod: 2})
		warm(t, p, epoch, ms(50))
		p.Begin(epoch)
		known := func(id PeerID) int { return map[PeerID]int{a: 7, b: c.knownB}[id] }
		got := p.Expire(epoch.Add(ms(200)), c.round, c.near, c.long, known)
		if (got > 0) != c.wait {
			t.Errorf("%s: wait %v, want waiting %v", c.name, got, c.wait)
		}
		// A round ended by deadline is no sample and doubles the next deadline.
		p.Finish(epoch.Add(ms(200)))
		if ended := p.Timeout() == 2*ms(4*50); ended == c.wait {
			t.Errorf("%s: the round is recorded as ended by deadline: %v (next deadline %v)", c.name, ended, p.Timeout())
		}
	}
	p := NewPacer(PacerConfig{MaxRoundTimeout: 5 * time.Second, LongPeriod: 2})
	p.Begin(epoch)
	if got := p.Expire(epoch.Add(5*time.Second), 10, nil, []PeerID{a}, func(PeerID) int { return 7 }); got != 0 {
		t.Errorf("after MaxRoundTimeout: waits %v more", got)
	}
	p.Begin(epoch)
	if got := p.Expire(epoch.Add(4*time.Second), 10, nil, []PeerID{a}, func(PeerID) int { return 7 }); got != time.Second {
		t.Errorf("4 s into an untimed round: waits %v, want the 1 s left to MaxRoundTimeout", got)
	}
}
