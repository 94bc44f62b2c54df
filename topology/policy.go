package topology

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Policy names how a peer picks the links it proposes.
type Policy string

const (
	// PolicyRandom proposes Degree links picked by seeded rendezvous
	// hashing, all near (mixed every round). It ignores latency: the
	// baseline that latency-aware selection must beat.
	PolicyRandom Policy = "random"
	// PolicyLatency proposes the Degree nearest members by measured RTT,
	// all near. Cheap rounds, but on clustered networks the mesh can fall
	// into islands that never agree.
	PolicyLatency Policy = "latency"
	// PolicyLatencyLong proposes the Degree−Long nearest members plus Long
	// long-range links picked by rendezvous hashing, mixed asynchronously
	// every LongPeriod rounds. The long links keep the mesh connected and
	// its spectral gap from collapsing; the default.
	PolicyLatencyLong Policy = "latency+long"
)

// policies lists the valid policies in the order error messages give them.
var policies = []Policy{PolicyRandom, PolicyLatency, PolicyLatencyLong}

// ParsePolicy reads a policy name as given on a command line; case and
// surrounding spaces are ignored.
func ParsePolicy(s string) (Policy, error) {
	p := Policy(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range policies {
		if p == known {
			return p, nil
		}
	}
	return "", fmt.Errorf("topology: unknown neighbor policy %q; valid policies: %s", s, policyList())
}

func policyList() string {
	names := make([]string, len(policies))
	for i, p := range policies {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// Defaults of SelectConfig, applied by WithDefaults to fields left zero.
const (
	DefaultSelectDegree = 4
	DefaultSelectLong   = 1
	DefaultShortlist    = 8
	DefaultHysteresis   = 0.2
	DefaultLongPeriod   = 2
	// DefaultAsyncRTT: links slower than this are mixed asynchronously.
	// On PlanetLab RTTs (64 peers) it turns the slowest 5% of near links
	// async and cuts the time to 93% accuracy by a third; the long links
	// that land well within it are mixed every round.
	DefaultAsyncRTT      = 100 * time.Millisecond
	DefaultRefusalMemory = 4
	// DefaultUplinkBudget is how long a peer's uplink may take to send one
	// round's messages: the AsyncRTT reasoning applied to bandwidth. At
	// 100 Mbit/s it allows 6 copies of an MNIST MLP of 51k parameters
	// instead of 8.
	DefaultUplinkBudget   = 100 * time.Millisecond
	defaultMaxDegreeRatio = 2
)

// SelectConfig parameterises neighbor selection. Every peer of a run must
// use the same values (they travel with the run's settings): each peer
// derives the others' accepted sets from their announcements, which only
// works if all apply the same Degree and MaxDegree. Zero fields take their
// defaults in WithDefaults; Validate rejects the rest of the nonsense.
type SelectConfig struct {
	Policy     Policy
	Degree     int     // links a peer proposes, near + long (default 4)
	Long       int     // of those, long-range links under latency+long (default 1); 0 under the other policies
	MaxDegree  int     // most accepted links, own proposals + inbound ones (default 2×Degree)
	Shortlist  int     // candidates probed per plan, by estimated RTT (default 8)
	Hysteresis float64 // a current near neighbor stays unless a candidate is this fraction faster (default 0.2)
	LongPeriod int     // rounds between mixes over a long link (default 2)
	// AsyncRTT: an active near link whose announced RTT exceeds it is
	// mixed asynchronously every LongPeriod rounds, one within it every
	// round; a long link is mixed every round only below
	// AsyncRTT×(1−Hysteresis) (SelectConfig.slowLong) (default 100 ms;
	// negative: near links never asynchronous, long links always).
	AsyncRTT time.Duration
	// RefusalMemory is how many plans a peer that refused a proposal is
	// left alone before it may be proposed again (default 4). Counted in
	// plans, not wall time, so the logic needs no clock.
	RefusalMemory int
	// MessageBytes is what a peer sends each neighbor per round (its model
	// on the wire). With it, peers that announce their uplink rate take only
	// as many links as their uplink sends within UplinkBudget (capacity.go);
	// 0 means unknown: no caps.
	MessageBytes int
	// UplinkBudget is how long a peer's uplink may spend on one round's
	// messages (default 100 ms; negative: no caps). When the slowest
	// announced uplink needs longer for a single message, that is the
	// budget.
	UplinkBudget time.Duration
	Seed         uint64 // run-wide seed: random and long picks are a function of (Seed, pair)
}

// WithDefaults returns c with every zero field set to its default: policy
// latency+long, Degree 4, Long 1 (latency+long only), MaxDegree 2×Degree,
// Shortlist 8, Hysteresis 0.2, LongPeriod 2, AsyncRTT 100 ms, RefusalMemory 4,
// UplinkBudget 100 ms. A zero
// Hysteresis means the default; to switch hysteresis off use a negligible
// value such as 1e-9.
func (c SelectConfig) WithDefaults() SelectConfig {
	if c.Policy == "" {
		c.Policy = PolicyLatencyLong
	}
	if c.Degree == 0 {
		c.Degree = DefaultSelectDegree
	}
	if c.Long == 0 && c.Policy == PolicyLatencyLong {
		c.Long = DefaultSelectLong
	}
	if c.MaxDegree == 0 && c.Degree > 0 {
		c.MaxDegree = defaultMaxDegreeRatio * c.Degree
	}
	if c.Shortlist == 0 {
		c.Shortlist = DefaultShortlist
	}
	if c.Hysteresis == 0 {
		c.Hysteresis = DefaultHysteresis
	}
	if c.AsyncRTT == 0 {
		c.AsyncRTT = DefaultAsyncRTT
	}
	if c.LongPeriod == 0 {
		c.LongPeriod = DefaultLongPeriod
	}
	if c.RefusalMemory == 0 {
		c.RefusalMemory = DefaultRefusalMemory
	}
	if c.UplinkBudget == 0 {
		c.UplinkBudget = DefaultUplinkBudget
	}
	return c
}

// Validate reports the first field of c that is out of range, naming the
// field, its value and what is allowed. It checks c as given: call
// WithDefaults first to accept zero fields.
func (c SelectConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("topology: neighbor selection: "+format, args...)
	}
	switch c.Policy {
	case PolicyRandom, PolicyLatency, PolicyLatencyLong:
	default:
		return bad("unknown policy %q; valid policies: %s", c.Policy, policyList())
	}
	switch {
	case c.Degree < 1:
		return bad("Degree=%d, want >= 1 link per peer", c.Degree)
	case c.Long < 0:
		return bad("Long=%d, want >= 0", c.Long)
	case c.Long > 0 && c.Policy != PolicyLatencyLong:
		return bad("Long=%d, but only policy %s makes long-range links (policy is %s)", c.Long, PolicyLatencyLong, c.Policy)
	case c.Long >= c.Degree:
		return bad("Long=%d must be below Degree=%d: at least one near link paces the rounds", c.Long, c.Degree)
	case c.MaxDegree < c.Degree:
		return bad("MaxDegree=%d is below Degree=%d: a peer must be able to accept its own proposals", c.MaxDegree, c.Degree)
	case c.Shortlist < c.nearCount():
		return bad("Shortlist=%d is below the %d near links a peer proposes: each near pick must be measured",
			c.Shortlist, c.nearCount())
	case math.IsNaN(c.Hysteresis) || c.Hysteresis < 0 || c.Hysteresis >= 1:
		return bad("Hysteresis=%g, want a fraction in [0, 1)", c.Hysteresis)
	case c.LongPeriod < 1:
		return bad("LongPeriod=%d, want >= 1 round", c.LongPeriod)
	case c.RefusalMemory < 1:
		return bad("RefusalMemory=%d, want >= 1 plan", c.RefusalMemory)
	case c.MessageBytes < 0:
		return bad("MessageBytes=%d, want >= 0 (0: unknown)", c.MessageBytes)
	}
	return nil
}

// nearCount is how many near links a peer proposes.
func (c SelectConfig) nearCount() int {
	if c.Policy == PolicyLatencyLong {
		return c.Degree - c.Long
	}
	return c.Degree
}

// longCount is how many long-range links a peer proposes.
func (c SelectConfig) longCount() int {
	if c.Policy == PolicyLatencyLong {
		return c.Long
	}
	return 0
}

// normalized returns c with defaults applied and every field clamped into
// its valid range, so that the selection functions, which cannot return an
// error, never panic on a bad config. Callers that can report errors
// validate first (NewPlanner, BuildOverlay).
func (c SelectConfig) normalized() SelectConfig {
	c = c.WithDefaults()
	switch c.Policy {
	case PolicyRandom, PolicyLatency, PolicyLatencyLong:
	default:
		c.Policy = PolicyLatencyLong
	}
	c.Degree = max(c.Degree, 1)
	if c.Policy != PolicyLatencyLong {
		c.Long = 0
	}
	c.Long = min(max(c.Long, 0), c.Degree-1)
	c.MaxDegree = max(c.MaxDegree, c.Degree)
	c.Shortlist = max(c.Shortlist, c.nearCount())
	if !(c.Hysteresis >= 0 && c.Hysteresis < 1) {
		c.Hysteresis = DefaultHysteresis
	}
	c.LongPeriod = max(c.LongPeriod, 1)
	c.RefusalMemory = max(c.RefusalMemory, 1)
	c.MessageBytes = max(c.MessageBytes, 0)
	return c
}

// inboundReserve is how many free places of a peer others leave alone
// when they plan new proposals: one, when a peer has room for at least two
// inbound links. A peer's last free place is what every proposer that
// wants it sees at once when it drops a link; if all of them propose, all
// but one are refused, and each winner frees a place elsewhere that sets
// off the next such race. On a 1000-device urban edge network, where
// everyone prefers the same few low-latency devices, those chains turned a
// minute of movement into 36 heartbeat exchanges of re-planning that
// changed two thirds of the links; with the reserve it takes 3 to 8
// exchanges and changes a few dozen. The reserved place still takes
// proposals that cross in one heartbeat (Accept caps only at MaxDegree).
func (c SelectConfig) inboundReserve() int {
	if c.MaxDegree-c.Degree >= 2 {
		return 1
	}
	return 0
}
