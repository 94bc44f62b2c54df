// Package wire is gradmesh's bytes on the wire: the parameter shard and
// heartbeat formats (docs/PROTOCOL.md), the Codec that encodes a shard's
// values, splitting a vector into shards and reassembling it, what a
// receiver checks (Expect), the run's identifiers and topic names, and the
// model-sync framing.
//
// It does no I/O of its own and knows no transport: gossip's peers and the
// simulator both price and check messages here, so the two agree byte for
// byte. It imports topology only for network coordinates, and libp2p only
// for the peer IDs that heartbeats carry.
package wire
