package p2p

import (
	"fmt"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// newDHT starts the gradmesh Kademlia DHT on h.
//
// Server mode, always: in auto mode a peer decides from AutoNAT whether it is
// publicly reachable, AutoNAT ignores private and loopback addresses, and a
// mesh on a LAN, a private network or one machine would then consist of
// clients only, with nobody answering queries. Every gradmesh peer therefore
// serves the DHT, and any peer can bootstrap others.
//
// The /gradmesh protocol prefix keeps the DHT apart from the public IPFS
// (Amino) DHT, and only the configured bootstrap peers are used, never the
// public IPFS bootstrap list.
func newDHT(h host.Host, bootstrap []peer.AddrInfo) (*dht.IpfsDHT, error) {
	d, err := dht.New(h,
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(dhtPrefix),
		dht.BootstrapPeers(bootstrap...),
	)
	if err != nil {
		return nil, fmt.Errorf("p2p: starting the DHT: %w", err)
	}
	return d, nil
}

// parseBootstrap turns Config.Bootstrap into one AddrInfo per peer (the
// addresses of a peer listed several times are merged). Every address must
// end in /p2p/<id>. The host's own ID is dropped, so that every peer of a
// mesh can be given the same bootstrap list.
func parseBootstrap(addrs []string, self peer.ID) ([]peer.AddrInfo, error) {
	mas := make([]ma.Multiaddr, 0, len(addrs))
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("p2p: bootstrap address %q: %w", s, err)
		}
		if _, err := peer.AddrInfoFromP2pAddr(a); err != nil {
			return nil, fmt.Errorf("p2p: bootstrap address %q must end in /p2p/<peer ID>: %w", s, err)
		}
		mas = append(mas, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("p2p: bootstrap addresses: %w", err)
	}
	out := infos[:0]
	for _, ai := range infos {
		if ai.ID != self {
			out = append(out, ai)
		}
	}
	return out, nil
}
