// Package p2p is gradmesh's network substrate: the libp2p host and its
// identity, the Kademlia DHT, peer discovery (DHT rendezvous per training
// run, mDNS on the LAN), NAT traversal, private-mesh gating and round-trip
// time probes. It knows nothing of models or training.
//
// A peer loads its identity with LoadOrCreateKey, starts with New, joins a
// training run with JoinRun and measures its neighbors with RTT:
//
//	key, _, err := p2p.LoadOrCreateKey("peer.key")
//	h, err := p2p.New(ctx, p2p.Config{Key: key, Bootstrap: addrs})
//	defer h.Close()
//	go h.JoinRun(ctx, "my-run", 10*time.Second)
//
// Every peer runs the DHT in server mode under the /gradmesh protocol prefix,
// so any peer can bootstrap others and gradmesh never touches the public IPFS
// DHT.
package p2p
