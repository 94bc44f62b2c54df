package sims

import "container/heap"

// event is something that happens to one peer at a virtual time.
type event struct {
	at   float64 // virtual seconds
	seq  uint64  // tie-break: equal times pop in scheduling order, so runs are deterministic
	peer int
	kind eventKind
	msg  msgEvent
	// deadline is the generation of an evDeadline: void unless the peer's
	// armed deadline is still this one.
	deadline uint64
}

type eventKind uint8

const (
	evGradientDone eventKind = iota // the peer's gradient for its current round is ready
	evDeliver                       // a neighbor's message reaches the peer
	// evArrive: a message has crossed the network and queues for the
	// receiver's downlink; when the downlink has carried it, it is delivered
	// (evDeliver). Messages to a peer with an unlimited downlink skip it.
	evArrive
	evMobility // the devices move; peer is unused
	evDeadline // the peer's round deadline fires (see training.Pacer)
)

type msgEvent struct {
	from   int
	round  int
	params []float32
}

// eventQueue is a min-heap on (at, seq).
type eventQueue struct {
	items []event
	seq   uint64
}

func (q *eventQueue) Len() int { return len(q.items) }
func (q *eventQueue) Less(i, j int) bool {
	a, b := &q.items[i], &q.items[j]
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}
func (q *eventQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *eventQueue) Push(x any)    { q.items = append(q.items, x.(event)) }
func (q *eventQueue) Pop() any {
	last := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return last
}

func (q *eventQueue) schedule(e event) {
	e.seq = q.seq
	q.seq++
	heap.Push(q, e)
}

func (q *eventQueue) next() event { return heap.Pop(q).(event) }
