package sims

// linkQueues is the network's state during a run: when each peer's uplink
// and downlink are next idle, in virtual seconds.
type linkQueues struct {
	nw           *Network
	uplinkFree   []float64
	downlinkFree []float64
}

func newLinkQueues(nw *Network) *linkQueues {
	return &linkQueues{nw: nw, uplinkFree: make([]float64, nw.N), downlinkFree: make([]float64, nw.N)}
}

// send queues a message on from's uplink at virtual time now and returns
// when it has crossed the network to peer to, where it joins to's downlink
// queue. A peer's sends must come in time order.
func (l *linkQueues) send(from, to, bytes int, now float64) (arrives float64) {
	leaves := max(l.uplinkFree[from], now) + serializeSeconds(l.nw.UplinkBitsPerSec, from, bytes)
	l.uplinkFree[from] = leaves
	return leaves + l.nw.OneWayAt(from, to, leaves)
}

// queuesAtDownlink reports whether messages to peer to wait for its
// downlink; when they do not, a message is received the moment it arrives.
func (l *linkQueues) queuesAtDownlink(to int) bool {
	return serializeSeconds(l.nw.DownlinkBitsPerSec, to, 1) > 0
}

// receive queues a message that arrived at peer to at virtual time arrived
// on to's downlink and returns when to has received all of it. Arrivals at
// one peer must come in time order, so the downlink serves them first come
// first served.
func (l *linkQueues) receive(to, bytes int, arrived float64) (received float64) {
	received = max(l.downlinkFree[to], arrived) + serializeSeconds(l.nw.DownlinkBitsPerSec, to, bytes)
	l.downlinkFree[to] = received
	return received
}
