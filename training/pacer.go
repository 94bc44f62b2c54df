package training

import "time"

// DefaultWindow is how many rounds apart two neighbors may be and still
// mix each other's vectors: a node buffers messages up to this many rounds
// ahead of its own, a live peer accepts shards within this many rounds of
// its own, and a round never waits for a neighbor further behind (that
// neighbor catches up by fetching the mesh's model instead).
const DefaultWindow = 8

// DefaultRoundTimeout is the longest a round waits for its neighbors unless
// told otherwise (a live peer's --round-timeout).
const DefaultRoundTimeout = 5 * time.Second

// defaultLongPeriod is a node's and a pacer's LongPeriod when none is given.
const defaultLongPeriod = 4

// PacerConfig sets how long a round may wait for its neighbors. Zero
// fields take the defaults.
type PacerConfig struct {
	// MaxRoundTimeout is the longest a round waits (default
	// DefaultRoundTimeout).
	MaxRoundTimeout time.Duration
	// MinRoundTimeout is the shortest deadline a round gets once rounds
	// have been timed (default 100 ms).
	MinRoundTimeout time.Duration
	// Window is DefaultWindow unless set: a neighbor more than Window
	// rounds behind is not waited for.
	Window int
	// LongPeriod is the rounds between long-link exchanges, as in the node
	// (and with its default): round r closes the exchange opened at
	// r − LongPeriod.
	LongPeriod int
}

// Pacer decides when a round gives up waiting, the same way for a live
// peer and for a simulated one: it holds no clock and no timer, only what
// it was told, and every method takes the time of the event it reports.
// The shell arms a timer with what Begin returns, calls Expire when it
// fires, and Finish when the node reports the round done.
//
// The rules, all about one peer's own rounds:
//
//   - A round's deadline is 4 × the smoothed round time (an EWMA with gain
//     1/4), at least MinRoundTimeout and at most MaxRoundTimeout. The
//     average starts at MaxRoundTimeout/4, so deadlines come down from
//     MaxRoundTimeout over the first rounds instead of trusting the first
//     sample: when peers start seconds apart, the first rounds take as long
//     as the spread of their starts takes to cross the mesh, and one that
//     finished at once (its vectors were all there when it began) says
//     nothing of them. Ending those rounds by deadline would only put the
//     peers out of step with each other.
//   - As in Karn's rule for TCP's retransmission timer, a round that ended
//     by deadline is no sample of the round time (its length is the
//     deadline itself, and averaging it in would grow every later deadline
//     toward MaxRoundTimeout); instead each consecutive one doubles the next
//     deadline, from MinRoundTimeout at least, and the first round that ends
//     with every vector in is a true sample and resets the doubling. A mesh
//     that really got slower (a peer whose GPU went back to its owner) is
//     followed within a few rounds, and so is one slower than a first sample
//     that was far too short (a round whose vectors were all there before it
//     began): doubling a deadline held at the floor must still reach the
//     mesh's round time, or the peer would end every round by deadline, run
//     ahead of its neighbors and never mix again.
//   - When the deadline fires, the round waits on (Expire returns how long)
//     while what it misses is late rather than lost: a near neighbor more
//     than Window/2 and at most Window rounds behind (both sides would
//     otherwise drift out of each other's window for good), or only long
//     neighbors' halves of the exchange the round closes, every one of
//     those neighbors not yet past the exchange's opening round and at most
//     Window rounds behind it. Never past MaxRoundTimeout from the round's
//     start. A neighbor that claims to stay just behind can thereby hold
//     every LongPeriod-th round to MaxRoundTimeout, as a near neighbor that
//     sends late on purpose can hold every round to its deadline.
//
// A Pacer is not safe for concurrent use.
type Pacer struct {
	cfg     PacerConfig
	start   time.Time     // when the round in progress began
	ewma    time.Duration // of rounds that ended with every vector in, from MaxRoundTimeout/4
	backoff int           // consecutive rounds ended by deadline
	expired bool          // the round in progress ended by deadline
}

// maxDeadlineBackoff bounds the doubling: 2^6 × a deadline is beyond any
// MaxRoundTimeout a run would use.
const maxDeadlineBackoff = 6

// NewPacer returns a pacer with cfg's zero fields set to the defaults.
func NewPacer(cfg PacerConfig) *Pacer {
	if cfg.MaxRoundTimeout <= 0 {
		cfg.MaxRoundTimeout = DefaultRoundTimeout
	}
	if cfg.MinRoundTimeout <= 0 {
		cfg.MinRoundTimeout = 100 * time.Millisecond
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.LongPeriod <= 0 {
		cfg.LongPeriod = defaultLongPeriod
	}
	return &Pacer{cfg: cfg, ewma: cfg.MaxRoundTimeout / 4}
}

// Begin starts a round at now and returns how long until its deadline.
func (p *Pacer) Begin(now time.Time) time.Duration {
	p.start, p.expired = now, false
	return p.Timeout()
}

// Finish ends the round in progress at now: a true sample of the round
// time unless the round ended by deadline.
func (p *Pacer) Finish(now time.Time) {
	if p.expired {
		p.backoff = min(p.backoff+1, maxDeadlineBackoff)
		return
	}
	p.backoff = 0
	p.ewma = (3*p.ewma + now.Sub(p.start)) / 4
}

// Timeout is the deadline a round beginning now would get.
func (p *Pacer) Timeout() time.Duration {
	return min(max(4*p.ewma, p.cfg.MinRoundTimeout)<<p.backoff, p.cfg.MaxRoundTimeout)
}

// Expire is the deadline of round firing at now, with the near neighbors
// whose vector the round misses and the long neighbors whose half of the
// exchange it closes has not arrived; known is the furthest round the
// shell has seen each neighbor at (its messages, its heartbeats). Expire
// returns how much longer the round should wait, or 0 when it ends by
// deadline now, which the pacer then records.
func (p *Pacer) Expire(now time.Time, round int, near, long []PeerID, known func(PeerID) int) time.Duration {
	if wait := p.laggardWait(now, round, near, long, known); wait > 0 {
		return wait
	}
	p.expired = true
	return 0
}

// laggardWait is how much longer a round waits for neighbors that are
// behind (see Pacer), 0 for none.
func (p *Pacer) laggardWait(now time.Time, round int, near, long []PeerID, known func(PeerID) int) time.Duration {
	left := p.cfg.MaxRoundTimeout - now.Sub(p.start)
	if left <= 0 {
		return 0
	}
	w := p.cfg.Window
	for _, id := range near {
		if lag := round - known(id); lag > w/2 && lag <= w {
			return min(left, p.Timeout())
		}
	}
	if len(near) > 0 || len(long) == 0 {
		return 0
	}
	opened := round - p.cfg.LongPeriod
	for _, id := range long {
		if lag := opened - known(id); lag <= 0 || lag > w {
			return 0
		}
	}
	return min(left, p.Timeout())
}
