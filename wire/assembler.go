package wire

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"github.com/gradmesh/gradmesh/training"
)

// Assembler collects neighbors' shards per (sender, round) until a vector is
// complete or the caller takes what arrived. It is safe for concurrent use.
//
// A round is complete when all Count shards arrived and they tile the
// vector: no overlaps, no gaps. Shards may have different lengths. A round
// whose shards cannot tile the vector (they overlap, or all arrived and leave
// a gap) is the sender's fault: the shard that shows it gets ErrShardRange
// and the round is discarded.
//
// Memory is bounded against hostile or broken senders:
//
//   - at most maxSenders senders: a shard from one more sender is refused
//     with ErrAssemblerFull, so that newcomers cannot push out the neighbors
//     being collected (DropBefore and Forget free slots);
//   - at most maxRounds rounds per sender: a shard for one more round is
//     refused with ErrAssemblerFull, so that a sender racing ahead cannot
//     push out the older rounds the receiver is about to mix;
//   - a round holds at most total values: what it keeps are the decoded
//     shards themselves, which DecodeShard sized by the bytes that arrived,
//     never space sized by a count or total claimed in a header. At worst
//     maxSenders × maxRounds × total values.
//
// A round stays known after Take, as a tombstone without data, so that late
// or duplicate shards for it are ignored instead of starting it over; it
// counts towards maxRounds until DropBefore or Forget removes it.
type Assembler struct {
	total      int
	maxSenders int
	maxRounds  int

	mu      sync.Mutex
	senders map[string]map[uint64]*partial // sender → round → shards
}

// partial is one sender's round in progress.
type partial struct {
	count  uint32           // shards in the round, as its first shard said
	held   uint64           // values held, summed over pieces
	done   bool             // all shards arrived and tile the vector
	pieces map[uint32]piece // shard index → piece; nil once taken or discarded
}

// piece is the part of the vector one shard carried.
type piece struct {
	offset uint32
	values []float32
}

// NewAssembler returns an Assembler for vectors of total values holding at
// most maxSenders senders and maxRounds rounds per sender (values below 1
// count as 1).
func NewAssembler(total int, maxSenders, maxRounds int) *Assembler {
	return &Assembler{
		total:      max(total, 0),
		maxSenders: max(maxSenders, 1),
		maxRounds:  max(maxRounds, 1),
		senders:    make(map[string]map[uint64]*partial),
	}
}

// Add stores a decoded, validated shard from sender and reports whether the
// sender's vector for that round is now complete. It keeps s.Values, which
// the caller must not modify afterwards.
//
// Duplicates are ignored: a shard whose index already arrived leaves the
// first copy in place and reports the round's state again, and a shard for a
// round already taken or discarded is dropped (false, nil). Errors:
// ErrShardRange when s.Total differs from the assembler's total, s is
// inconsistent in itself, its Count differs from the earlier shards of its
// round, or the round's shards overlap or leave a gap; ErrAssemblerFull when
// a bound refuses it (see Assembler).
func (a *Assembler) Add(sender string, s *Shard) (complete bool, err error) {
	if s == nil {
		return false, fmt.Errorf("%w: nil shard from %s", ErrMalformed, sender)
	}
	if uint64(s.Total) != uint64(a.total) {
		return false, fmt.Errorf("%w: shard of a %d-value vector from %s, want %d values", ErrShardRange, s.Total, sender, a.total)
	}
	n := len(s.Values)
	if err := checkGeometry(s.Index, s.Count, s.Offset, s.Total, n); err != nil {
		return false, fmt.Errorf("%w (from %s)", err, sender)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	rounds := a.senders[sender]
	if rounds == nil {
		if len(a.senders) >= a.maxSenders {
			return false, fmt.Errorf("%w: collecting from %d senders already, refusing %s", ErrAssemblerFull, len(a.senders), sender)
		}
		rounds = make(map[uint64]*partial)
		a.senders[sender] = rounds
	}
	p := rounds[s.Round]
	if p == nil {
		if len(rounds) >= a.maxRounds {
			return false, fmt.Errorf("%w: collecting %d rounds from %s already, refusing round %d",
				ErrAssemblerFull, len(rounds), sender, s.Round)
		}
		p = &partial{count: s.Count, pieces: make(map[uint32]piece)}
		rounds[s.Round] = p
	}
	switch _, dup := p.pieces[s.Index]; {
	case p.pieces == nil: // taken or discarded
		return false, nil
	case s.Count != p.count:
		return false, fmt.Errorf("%w: shard %d of %d from %s, but earlier shards of round %d said %d shards",
			ErrShardRange, s.Index, s.Count, sender, s.Round, p.count)
	case dup:
		return p.done, nil
	case p.held+uint64(n) > uint64(a.total):
		p.pieces = nil
		return false, fmt.Errorf("%w: shards of round %d from %s overlap (%d values held, %d more, %d in the vector); round discarded",
			ErrShardRange, s.Round, sender, p.held, n, a.total)
	}
	p.pieces[s.Index] = piece{offset: s.Offset, values: s.Values}
	p.held += uint64(n)
	if len(p.pieces) < int(p.count) {
		return false, nil
	}
	if p.held != uint64(a.total) || overlapping(p.sorted()) {
		p.pieces = nil
		return false, fmt.Errorf("%w: the %d shards of round %d from %s overlap or leave gaps (%d of %d values); round discarded",
			ErrShardRange, p.count, s.Round, sender, p.held, a.total)
	}
	p.done = true
	return true, nil
}

// Taken is a sender's vector for one round, as Take hands it over.
type Taken struct {
	// Values has the assembler's total length: what arrived, zero
	// elsewhere. The caller owns it.
	Values []float32
	// Spans are the coordinates that arrived, sorted and disjoint; nil
	// when the whole vector did.
	Spans []training.Span
	// Shards of Of arrived.
	Shards, Of int
}

// Take removes and returns sender's vector for round, complete or not, so
// that a round can end with shards missing; ok is false, and nothing
// changes, when nothing arrived for that round or it was already taken.
// It is also false when the shards that arrived overlap; the round is
// then discarded.
func (a *Assembler) Take(sender string, round uint64) (t Taken, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.senders[sender][round]
	if p == nil || p.pieces == nil {
		return Taken{}, false
	}
	t.Shards, t.Of = len(p.pieces), int(p.count)
	pieces := p.sorted()
	p.pieces = nil // from here on a tombstone: late shards of this round are ignored
	if overlapping(pieces) {
		return t, false
	}
	t.Values = make([]float32, a.total)
	for _, pc := range pieces {
		copy(t.Values[pc.offset:], pc.values)
		if !p.done {
			t.Spans = append(t.Spans, training.Span{Lo: int(pc.offset), Hi: int(pc.offset) + len(pc.values)})
		}
	}
	return t, true
}

// DropBefore forgets every sender's rounds before round, taken or not, and
// senders left with no round.
func (a *Assembler) DropBefore(round uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for sender, rounds := range a.senders {
		for r := range rounds {
			if r < round {
				delete(rounds, r)
			}
		}
		if len(rounds) == 0 {
			delete(a.senders, sender)
		}
	}
}

// Forget drops everything held for sender.
func (a *Assembler) Forget(sender string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.senders, sender)
}

// sorted returns the round's pieces in vector order.
func (p *partial) sorted() []piece {
	out := make([]piece, 0, len(p.pieces))
	for _, pc := range p.pieces {
		out = append(out, pc)
	}
	slices.SortFunc(out, func(x, y piece) int { return cmp.Compare(x.offset, y.offset) })
	return out
}

// overlapping reports whether pieces sorted by offset share a value.
func overlapping(sorted []piece) bool {
	for i := 1; i < len(sorted); i++ {
		prev := sorted[i-1]
		if uint64(prev.offset)+uint64(len(prev.values)) > uint64(sorted[i].offset) {
			return true
		}
	}
	return false
}
