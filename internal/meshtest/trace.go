package meshtest

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
)

// Trace is what one simulated peer did, on the virtual clock.
type Trace struct {
	ID      string
	mu      sync.Mutex
	Started map[int]time.Time     // round -> when its local step began
	Status  map[int]gossip.Status // round -> the peer's status when it began the round
	Last    int                   // latest round begun; -1 before round 0
	Jumps   int                   // catch-ups: rounds skipped by adopting the mesh's model
	// reached and models hold, for every EvalEvery-th round k, when the peer
	// first began a round ≥ k and its model then: round k itself, or the
	// round a catch-up took it to past k.
	Reached map[int]time.Time
	Models  map[int][]float32
	Samples []LinkSample // every SampleEvery, when set
	Ended   time.Time    // when Run returned
	Sum     *gossip.Summary
	Err     error
}

// LinkSample is a peer's active links and own proposals at a moment of
// virtual time.
type LinkSample struct {
	At        time.Time
	Links     []gossip.NeighborStatus
	Proposals []gossip.ProposalStatus
}

func newTrace(id string) *Trace {
	return &Trace{ID: id, Started: map[int]time.Time{}, Status: map[int]gossip.Status{}, Last: -1,
		Reached: map[int]time.Time{}, Models: map[int][]float32{}}
}

func (tr *Trace) noteStep(p *gossip.Peer, round, every int, params []float32) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if round <= tr.Last {
		return // a round begun again: its first start counts
	}
	if round > tr.Last+1 && tr.Last >= 0 {
		tr.Jumps++
	}
	now := time.Now()
	first := 0 // the first EvalEvery-th round past the last one begun
	if tr.Last >= 0 {
		first = (tr.Last/every + 1) * every
	}
	for k := first; k <= round; k += every {
		tr.Reached[k] = now
		tr.Models[k] = slices.Clone(params)
	}
	tr.Last = round
	tr.Started[round] = now
	tr.Status[round] = p.Status()
}

// StatusAt is the peer's status when it began round k, or the first round
// after k it began (it may have skipped k by catching up).
func (tr *Trace) StatusAt(k int) (gossip.Status, bool) {
	for r := k; r <= tr.Last; r++ {
		if st, ok := tr.Status[r]; ok {
			return st, true
		}
	}
	return gossip.Status{}, false
}

// Outcome is a finished protocol-level run.
type Outcome struct {
	Data   *Data
	Traces []*Trace
	Begun  time.Time // when the hosts were up and the peers about to start
	Start  time.Time // the first local step of round 0, on any peer
}

// MeshPoint is the mesh once every peer has begun round Round.
type MeshPoint struct {
	Round        int
	Virtual      time.Duration // since the first step of round 0, when the slowest peer got there
	AccuracyMean float64
	AccuracyMin  float64
}

// Curve scores every peer's recorded models, round by round, as the
// algorithm-level simulator's records do; the last point is the peers' own
// final evaluation when they finished.
func (o *Outcome) Curve() ([]MeshPoint, error) {
	var pts []MeshPoint
	for k := 0; k < o.Data.Settings.Rounds; k += o.Data.Settings.EvalEvery {
		pt := MeshPoint{Round: k, AccuracyMin: 1}
		for i, tr := range o.Traces {
			m, ok := tr.Models[k]
			if !ok {
				return nil, fmt.Errorf("peer %d never reached round %d (it began at round %d)", i, k, minKey(tr.Started))
			}
			acc := training.Evaluate(o.Data.Model, m, o.Data.Test).Accuracy
			pt.AccuracyMean += acc / float64(len(o.Traces))
			pt.AccuracyMin = min(pt.AccuracyMin, acc)
			pt.Virtual = max(pt.Virtual, tr.Reached[k].Sub(o.Start))
		}
		pts = append(pts, pt)
	}
	last := MeshPoint{Round: o.Data.Settings.Rounds, AccuracyMin: 1}
	for i, tr := range o.Traces {
		if tr.Sum == nil || tr.Sum.Rounds < o.Data.Settings.Rounds {
			return nil, fmt.Errorf("peer %d did not finish its %d rounds", i, o.Data.Settings.Rounds)
		}
		last.AccuracyMean += tr.Sum.FinalTestAccuracy / float64(len(o.Traces))
		last.AccuracyMin = min(last.AccuracyMin, tr.Sum.FinalTestAccuracy)
		last.Virtual = max(last.Virtual, tr.Ended.Sub(o.Start))
	}
	return append(pts, last), nil
}

// Index is the host index of a peer ID; -1 if it is none of the run's.
func (o *Outcome) Index(id string) int {
	return slices.IndexFunc(o.Traces, func(tr *Trace) bool { return tr.ID == id })
}

// eachLink calls f for every active link of every peer when it began
// round k: the peer's index i, the neighbor's j, and the link as the peer
// listed it.
func (o *Outcome) eachLink(k int, f func(i, j int, nb gossip.NeighborStatus)) error {
	for i, tr := range o.Traces {
		st, ok := tr.StatusAt(k)
		if !ok {
			return fmt.Errorf("peer %d has no status at round %d", i, k)
		}
		for _, nb := range st.Neighbors {
			j := o.Index(nb.PeerID)
			if j < 0 {
				return fmt.Errorf("peer %d lists neighbor %s, which is no peer of the run", i, nb.PeerID)
			}
			f(i, j, nb)
		}
	}
	return nil
}

// NeighborRTTs lists, for every peer at round k, each neighbor's RTT as the
// peer measured it live beside the RTT the matrix gives the pair (the mean
// of both directions: a round trip crosses each once).
func (o *Outcome) NeighborRTTs(k int, rtt *topology.LatencyMatrix) (measured, matrix []float64, err error) {
	err = o.eachLink(k, func(i, j int, nb gossip.NeighborStatus) {
		if nb.RTTms > 0 { // else not measured yet
			measured = append(measured, nb.RTTms)
			matrix = append(matrix, (rtt.At(i, j)+rtt.At(j, i))/2)
		}
	})
	return measured, matrix, err
}

// TimeToTarget is the virtual time of the first point whose mean accuracy
// reaches target.
func TimeToTarget(pts []MeshPoint, target float64) (MeshPoint, bool) {
	for _, p := range pts {
		if p.AccuracyMean >= target {
			return p, true
		}
	}
	return MeshPoint{}, false
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

// IDs are the run's peer IDs by host index.
func (o *Outcome) IDs() []string {
	ids := make([]string, len(o.Traces))
	for i, tr := range o.Traces {
		ids[i] = tr.ID
	}
	return ids
}

// MixedWithNobody finds a peer that began a round with no active link.
func (o *Outcome) MixedWithNobody() (peer, round int, found bool) {
	for i, tr := range o.Traces {
		for r := 0; r <= tr.Last; r++ {
			if st, ok := tr.Status[r]; ok && len(st.Neighbors) == 0 {
				return i, r, true
			}
		}
	}
	return 0, 0, false
}
