package gossip

import (
	"fmt"
	"slices"
)

// Assembler collects neighbors' shards per (sender, round) with bounded
// memory: at most maxSenders senders and maxRounds rounds per sender. A
// shard that would exceed a bound is refused, so a hostile peer cannot grow
// a receiver's memory; the runtime drops finished rounds with DropBefore.
type Assembler struct {
	total      int
	maxSenders int
	maxRounds  int
	parts      map[string]map[uint64]*partial
}

type partial struct {
	vec      []float32
	have     []bool
	got      int
	count    int
	received [][2]int // [lo, hi) value ranges that arrived
}

// NewAssembler collects vectors of total values.
func NewAssembler(total, maxSenders, maxRounds int) *Assembler {
	return &Assembler{total: total, maxSenders: max(1, maxSenders), maxRounds: max(1, maxRounds),
		parts: map[string]map[uint64]*partial{}}
}

// Add stores a validated shard and reports whether the sender's vector for
// that round is now complete. Duplicates are ignored.
func (a *Assembler) Add(sender string, s *Shard) (bool, error) {
	if int(s.Total) != a.total {
		return false, fmt.Errorf("%w: vector of %d values, want %d", ErrShardRange, s.Total, a.total)
	}
	rounds := a.parts[sender]
	if rounds == nil {
		if len(a.parts) >= a.maxSenders {
			return false, fmt.Errorf("gossip: already collecting from %d senders", a.maxSenders)
		}
		rounds = map[uint64]*partial{}
		a.parts[sender] = rounds
	}
	p := rounds[s.Round]
	if p == nil {
		if len(rounds) >= a.maxRounds {
			return false, fmt.Errorf("gossip: already collecting %d rounds from %s", a.maxRounds, sender)
		}
		p = &partial{vec: make([]float32, a.total), have: make([]bool, s.Count), count: int(s.Count)}
		rounds[s.Round] = p
	}
	if int(s.Count) != p.count {
		return false, fmt.Errorf("%w: shard count %d, earlier shards said %d", ErrShardRange, s.Count, p.count)
	}
	if p.have[s.Index] {
		return p.got == p.count, nil
	}
	copy(p.vec[s.Offset:], s.Values)
	p.received = append(p.received, [2]int{int(s.Offset), int(s.Offset) + len(s.Values)})
	p.have[s.Index] = true
	p.got++
	return p.got == p.count, nil
}

// Take removes and returns the sender's vector for round. Coordinates of
// shards that never arrived are copied from fill, so a round can use what
// arrived; fill must then have the full length. ok is false when nothing
// arrived for that round.
func (a *Assembler) Take(sender string, round uint64, fill []float32) (vec []float32, got, of int, ok bool) {
	p := a.parts[sender][round]
	if p == nil {
		return nil, 0, 0, false
	}
	delete(a.parts[sender], round)
	if p.got < p.count {
		if len(fill) != a.total {
			return nil, p.got, p.count, false
		}
		// Fill every value no received shard covered.
		slices.SortFunc(p.received, func(x, y [2]int) int { return x[0] - y[0] })
		next := 0
		for _, r := range p.received {
			if r[0] > next {
				copy(p.vec[next:r[0]], fill[next:r[0]])
			}
			next = max(next, r[1])
		}
		copy(p.vec[next:], fill[next:])
	}
	return p.vec, p.got, p.count, true
}

// DropBefore forgets every sender's rounds before round.
func (a *Assembler) DropBefore(round uint64) {
	for sender, rounds := range a.parts {
		for r := range rounds {
			if r < round {
				delete(rounds, r)
			}
		}
		if len(rounds) == 0 {
			delete(a.parts, sender)
		}
	}
}

// Forget drops everything from sender.
func (a *Assembler) Forget(sender string) { delete(a.parts, sender) }
