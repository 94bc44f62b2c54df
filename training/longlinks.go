package training

import (
	"fmt"
	"maps"
	"slices"
)

// Long links mix asynchronously, so that a link across a continent does not
// set the pace of every round.
//
// Every LongPeriod rounds (rounds r with r % LongPeriod == 0) a node sends its
// vector s_i to its long neighbors, keeps s_i, and carries on. When neighbor
// j's vector y_j of the same exchange arrives, at the end of whichever round
// is then in progress the node adds
//
//	w_ij · (y_j − s_i)
//
// to its model. Node j adds w_ij · (s_i − y_j) on its side, so the two
// corrections cancel and the mesh average is preserved exactly, however many
// rounds apart they land; applied at once, the correction is exactly
// Metropolis mixing over the link. A round never waits for a long neighbor
// except to close an exchange LongPeriod rounds old: latency below
// LongPeriod rounds of near-link work costs nothing. An exchange a round
// gives up on (its deadline passed) is dropped on this side only, which, like
// any missed message in D-PSGD, nudges the average by w·(y_j − s_i) once.
type longLinks struct {
	snap  map[int][]float32            // own vector of each open exchange, by its round
	in    map[int]map[PeerID][]float32 // long neighbors' vectors not yet applied
	done  map[int]map[PeerID]bool      // exchanges applied or given up, for duplicate checks
	since map[PeerID]int               // round from which each long neighbor is one
}

func newLongLinks() longLinks {
	return longLinks{snap: map[int][]float32{}, in: map[int]map[PeerID][]float32{},
		done: map[int]map[PeerID]bool{}, since: map[PeerID]int{}}
}

// joined records the neighbor set in force from round on: new long
// neighbors take part in exchanges from that round, and vectors from peers
// that are no longer long neighbors are dropped.
func (l *longLinks) joined(set []Neighbor, round int) {
	keep := map[PeerID]bool{}
	for _, v := range set {
		if !v.Long {
			continue
		}
		keep[v.ID] = true
		if _, ok := l.since[v.ID]; !ok {
			l.since[v.ID] = round
		}
	}
	for id := range l.since {
		if !keep[id] {
			delete(l.since, id)
		}
	}
	for _, box := range l.in {
		for id := range box {
			if !keep[id] {
				delete(box, id)
			}
		}
	}
}

// startsExchange reports whether round opens a long exchange, and if so
// keeps params (immutable by contract) as this side's vector.
func (l *longLinks) startsExchange(round, period int, params []float32) bool {
	if round%period != 0 || len(l.since) == 0 {
		return false
	}
	l.snap[round] = params
	return true
}

// receiveLong buffers a long neighbor's vector for its exchange.
func (n *Node) receiveLong(m Message) error {
	l, p := &n.long, n.cfg.LongPeriod
	since, isLong := l.since[m.From]
	switch {
	case n.done || m.Round < n.round-p || (isLong && m.Round < since):
		return fmt.Errorf("%w: long-link round %d from %s, node %s is in round %d", ErrStaleRound, m.Round, m.From, n.cfg.ID, n.round)
	case m.Round%p != 0:
		return fmt.Errorf("%w: round %d from %s, exchanges every %d rounds", ErrOffCadence, m.Round, m.From, p)
	case m.Round > n.round+n.cfg.Window:
		return fmt.Errorf("%w: round %d from %s, node %s is in round %d (window %d)", ErrFutureRound, m.Round, m.From, n.cfg.ID, n.round, n.cfg.Window)
	case l.done[m.Round][m.From] || l.in[m.Round][m.From] != nil:
		return fmt.Errorf("%w: %s, long-link round %d", ErrDuplicate, m.From, m.Round)
	}
	box := l.in[m.Round]
	if box == nil {
		box = map[PeerID][]float32{}
		l.in[m.Round] = box
	}
	box[m.From] = m.Params
	return nil
}

// dueArrived reports whether the exchange that round must close (the one
// started period rounds earlier) is complete.
func (l *longLinks) dueArrived(round, period int, set []Neighbor) bool {
	return len(l.dueMissing(round, period, set)) == 0
}

// dueMissing lists the long neighbors whose half of the exchange round
// must close has not arrived (nil when round closes none).
func (l *longLinks) dueMissing(round, period int, set []Neighbor) []PeerID {
	r0 := round - period
	if r0 < 0 || r0%period != 0 || l.snap[r0] == nil {
		return nil
	}
	var missing []PeerID
	for _, v := range set {
		if !v.Long || l.since[v.ID] > r0 {
			continue
		}
		if l.in[r0][v.ID] == nil && !l.done[r0][v.ID] {
			missing = append(missing, v.ID)
		}
	}
	return missing
}

// applyArrived adds the correction (agg.Correct) of every exchange this
// side has opened and whose other half has arrived to next, closes the exchange due this
// round, and returns how many corrections it applied. Rounds and peers go in
// sorted order so float sums are reproducible.
func (l *longLinks) applyArrived(round, period int, set []Neighbor, next []float32, agg Aggregator) int {
	applied := 0
	for _, r := range slices.Sorted(maps.Keys(l.in)) {
		if r > round {
			continue // this side has not sent its half yet
		}
		box, s := l.in[r], l.snap[r]
		for _, id := range slices.Sorted(maps.Keys(box)) {
			if nb, ok := find(set, id); ok && nb.Long && s != nil {
				agg.Correct(next, nb.Weight, box[id], s)
				applied++
			}
			l.markDone(r, id)
		}
		delete(l.in, r)
	}
	if r0 := round - period; r0 >= 0 {
		delete(l.snap, r0)
		for r := range l.done {
			if r <= r0 {
				delete(l.done, r)
			}
		}
	}
	return applied
}

func (l *longLinks) markDone(round int, id PeerID) {
	if l.done[round] == nil {
		l.done[round] = map[PeerID]bool{}
	}
	l.done[round][id] = true
}

func (l *longLinks) clear() {
	clear(l.snap)
	clear(l.in)
	clear(l.done)
}
