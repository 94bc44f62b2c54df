// Package gossip is gradmesh's live peer: the event loop that drives a
// training.Node and a training.Pacer with the wall clock and a Transport.
// A peer finds the members of its run, agrees on a few neighbors with them
// (topology.Planner), publishes its vector every round to the neighbors
// that follow it, mixes theirs, ends rounds by the pacer's deadlines, and
// adopts the mesh's model when it falls behind.
//
// The Transport carries a run: PubSubTransport over gossipsub and libp2p
// streams, MemNetwork inside one process for tests. Both hand over only
// messages that pass the peer's Checks. The bytes themselves are package
// wire's.
package gossip
