package gossip_test

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
)

// peerTrace is what one simulated peer did, on the virtual clock.
type peerTrace struct {
	id      string
	mu      sync.Mutex
	started map[int]time.Time     // round -> when its local step began
	status  map[int]gossip.Status // round -> the peer's status when it began the round
	last    int                   // latest round begun; -1 before round 0
	jumps   int                   // catch-ups: rounds skipped by adopting the mesh's model
	// reached and models hold, for every EvalEvery-th round k, when the peer
	// first began a round ≥ k and its model then: round k itself, or the
	// round a catch-up took it to past k.
	reached map[int]time.Time
	models  map[int][]float32
	samples []linkSample // every SampleEvery, when set
	ended   time.Time    // when Run returned
	sum     *gossip.Summary
	err     error
}

// linkSample is a peer's active links and own proposals at a moment of
// virtual time.
type linkSample struct {
	at        time.Time
	links     []gossip.NeighborStatus
	proposals []gossip.ProposalStatus
}

func newPeerTrace(id string) *peerTrace {
	return &peerTrace{id: id, started: map[int]time.Time{}, status: map[int]gossip.Status{}, last: -1,
		reached: map[int]time.Time{}, models: map[int][]float32{}}
}

func (tr *peerTrace) noteStep(p *gossip.Peer, round, every int, params []float32) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if round <= tr.last {
		return // a round begun again: its first start counts
	}
	if round > tr.last+1 && tr.last >= 0 {
		tr.jumps++
	}
	now := time.Now()
	first := 0 // the first EvalEvery-th round past the last one begun
	if tr.last >= 0 {
		first = (tr.last/every + 1) * every
	}
	for k := first; k <= round; k += every {
		tr.reached[k] = now
		tr.models[k] = slices.Clone(params)
	}
	tr.last = round
	tr.started[round] = now
	tr.status[round] = p.Status()
}

// statusAt is the peer's status when it began round k, or the first round
// after k it began (it may have skipped k by catching up).
func (tr *peerTrace) statusAt(k int) (gossip.Status, bool) {
	for r := k; r <= tr.last; r++ {
		if st, ok := tr.status[r]; ok {
			return st, true
		}
	}
	return gossip.Status{}, false
}

// simOutcome is a finished protocol-level run.
type simOutcome struct {
	data   *simData
	traces []*peerTrace
	begun  time.Time // when the hosts were up and the peers about to start
	start  time.Time // the first local step of round 0, on any peer
}

// meshPoint is the mesh once every peer has begun round Round.
type meshPoint struct {
	Round        int
	Virtual      time.Duration // since the first step of round 0, when the slowest peer got there
	AccuracyMean float64
	AccuracyMin  float64
}

// curve scores every peer's recorded models, round by round, as the
// algorithm-level simulator's records do; the last point is the peers' own
// final evaluation when they finished.
func (o *simOutcome) curve() ([]meshPoint, error) {
	var pts []meshPoint
	for k := 0; k < o.data.run.Rounds; k += o.data.run.EvalEvery {
		pt := meshPoint{Round: k, AccuracyMin: 1}
		for i, tr := range o.traces {
			m, ok := tr.models[k]
			if !ok {
				return nil, fmt.Errorf("peer %d never reached round %d (it began at round %d)", i, k, minKey(tr.started))
			}
			acc := training.Evaluate(o.data.model, m, o.data.test).Accuracy
			pt.AccuracyMean += acc / float64(len(o.traces))
			pt.AccuracyMin = min(pt.AccuracyMin, acc)
			pt.Virtual = max(pt.Virtual, tr.reached[k].Sub(o.start))
		}
		pts = append(pts, pt)
	}
	last := meshPoint{Round: o.data.run.Rounds, AccuracyMin: 1}
	for i, tr := range o.traces {
		if tr.sum == nil || tr.sum.Rounds < o.data.run.Rounds {
			return nil, fmt.Errorf("peer %d did not finish its %d rounds", i, o.data.run.Rounds)
		}
		last.AccuracyMean += tr.sum.FinalTestAccuracy / float64(len(o.traces))
		last.AccuracyMin = min(last.AccuracyMin, tr.sum.FinalTestAccuracy)
		last.Virtual = max(last.Virtual, tr.ended.Sub(o.start))
	}
	return append(pts, last), nil
}

// index is the host index of a peer ID; -1 if it is none of the run's.
func (o *simOutcome) index(id string) int {
	return slices.IndexFunc(o.traces, func(tr *peerTrace) bool { return tr.id == id })
}

// neighborRTTs lists, for every peer at round k, each neighbor's RTT as the
// peer measured it live beside the RTT the matrix gives the pair (the mean
// of both directions: a round trip crosses each once).
func (o *simOutcome) neighborRTTs(k int, rtt *topology.LatencyMatrix) (measured, matrix []float64, err error) {
	for i, tr := range o.traces {
		st, ok := tr.statusAt(k)
		if !ok {
			return nil, nil, fmt.Errorf("peer %d has no status at round %d", i, k)
		}
		for _, nb := range st.Neighbors {
			j := o.index(nb.PeerID)
			if j < 0 {
				return nil, nil, fmt.Errorf("peer %d lists neighbor %s, which is no peer of the run", i, nb.PeerID)
			}
			if nb.RTTms == 0 {
				continue // not measured yet
			}
			measured = append(measured, nb.RTTms)
			matrix = append(matrix, (rtt.At(i, j)+rtt.At(j, i))/2)
		}
	}
	return measured, matrix, nil
}

// timeToTarget is the virtual time of the first point whose mean accuracy
// reaches target.
func timeToTarget(pts []meshPoint, target float64) (meshPoint, bool) {
	for _, p := range pts {
		if p.AccuracyMean >= target {
			return p, true
		}
	}
	return meshPoint{}, false
}

func minKey(m map[int]time.Time) int {
	first := -1
	for k := range m {
		if first < 0 || k < first {
			first = k
		}
	}
	return first
}

// ids are the run's peer IDs by host index.
func (o *simOutcome) ids() []string {
	ids := make([]string, len(o.traces))
	for i, tr := range o.traces {
		ids[i] = tr.id
	}
	return ids
}

// mixedWithNobody finds a peer that began a round with no active link.
func (o *simOutcome) mixedWithNobody() (peer, round int, found bool) {
	for i, tr := range o.traces {
		for r := 0; r <= tr.last; r++ {
			if st, ok := tr.status[r]; ok && len(st.Neighbors) == 0 {
				return i, r, true
			}
		}
	}
	return 0, 0, false
}
