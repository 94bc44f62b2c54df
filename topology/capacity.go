package topology

import (
	"math"
	"time"
)

// A peer's uplink carries one copy of its model per link every round, one
// after another, so a round cannot end before the slowest uplink in the mesh
// has sent its copies: neighbors wait for it, and their neighbors for them.
// On an edge network whose devices' uplinks differ a hundredfold, one
// handset with eight links sets the pace of every round. So under the
// latency-aware policies a peer that announces its uplink rate takes only
// as many links as that uplink sends within the run's uplink budget. Every
// member derives each peer's cap from the same announcements, as it
// derives the accepted sets.

// uplinkBudget is how long any peer's uplink may take per round: the
// configured UplinkBudget, or, if longer, what the slowest announced
// uplink needs for slowestLinks messages. Every peer thus keeps at least
// two links (one near, one more), and the faster ones fill the round the
// slowest sets with links instead of idling. 0 means no caps: the policy
// is random, MessageBytes or the budget is unset, or nobody announced a
// rate.
func (c SelectConfig) uplinkBudget(uplinks []float64) time.Duration {
	if c.Policy == PolicyRandom || c.MessageBytes <= 0 || c.UplinkBudget <= 0 {
		return 0
	}
	budget, known := c.UplinkBudget, false
	for _, bps := range uplinks {
		if knownRate(bps) {
			known = true
			budget = max(budget, slowestLinks*c.sendTime(bps))
		}
	}
	if !known {
		return 0
	}
	return budget
}

// linkCapacity is how many links a peer whose uplink sends bitsPerSec
// takes within budget, at most MaxDegree (at least slowestLinks when the
// budget came from uplinkBudget); 0 (no cap of its own) when the rate or
// the budget is unknown.
func (c SelectConfig) linkCapacity(bitsPerSec float64, budget time.Duration) int {
	if budget <= 0 || !knownRate(bitsPerSec) {
		return 0
	}
	fit := math.Floor(float64(budget) / float64(c.sendTime(bitsPerSec)))
	return int(min(max(fit, 1), float64(c.MaxDegree)))
}

// sendTime is how long an uplink of bitsPerSec takes to send one message.
func (c SelectConfig) sendTime(bitsPerSec float64) time.Duration {
	return time.Duration(float64(8*c.MessageBytes) / bitsPerSec * float64(time.Second))
}

// slowestLinks is how many links the slowest stated uplink keeps: one
// alone would leave it hanging off a single neighbor, and two such peers
// could pair up into an island.
const slowestLinks = 2

func knownRate(bitsPerSec float64) bool { return bitsPerSec > 0 && !math.IsInf(bitsPerSec, 0) }

// capped is c for one peer whose uplink allows maxLinks links (0: no cap):
// it accepts at most maxLinks and proposes one fewer, leaving a place for an
// inbound proposal (without it, capped peers' proposals fill the fast
// peers and the slowest find no place at all), and keeps one near link
// before any long one.
func (c SelectConfig) capped(maxLinks int) SelectConfig {
	if maxLinks <= 0 || maxLinks >= c.MaxDegree {
		return c
	}
	c.MaxDegree = maxLinks
	c.Degree = min(c.Degree, max(maxLinks-1, 1))
	c.Long = min(c.Long, c.Degree-1)
	return c
}
