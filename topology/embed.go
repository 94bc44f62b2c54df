package topology

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// EmbedConfig says how EmbedMatrix runs the coordinate system over a
// latency matrix. Start from DefaultEmbedConfig.
type EmbedConfig struct {
	// Vivaldi tunes every peer's coordinate client. Its Seed is ignored:
	// each peer's client is seeded from Seed and the peer's index.
	Vivaldi VivaldiConfig
	// Steps is how many rounds every peer takes samples.
	Steps int
	// Samples is how many RTT samples each peer takes per step.
	Samples int
	// NearFraction (0 to 1) is the share of samples taken from the peer's
	// NearSet rather than from a peer chosen uniformly at random.
	NearFraction float64
	// NearSet is how many of the lowest RTTs it has measured so far a peer
	// remembers as its near peers.
	NearSet int
	// Seed makes the run reproducible: the same matrix, config and seed give
	// the same coordinates.
	Seed uint64
}

// DefaultEmbedConfig returns the settings `gradmesh topo` uses by default:
// DefaultVivaldiConfig, and per peer 300 steps of 4 samples, one in ten to
// a near peer. That is 1200 probes per peer in all, what a live peer that
// probes 4 peers per heartbeat sends in 300 heartbeats, while it never
// probes more than a few peers at once. Near samples matter: Vivaldi fits
// the RTTs it is fed, and uniformly random peers are nearly all far away,
// so without near samples the coordinates place a peer's few nearby peers
// worse (PlanetLab: true nearest found by 74% of peers instead of 84%).
// More near samples find the nearest a little more often but fit the
// far-away majority of RTTs worse (median error 0.075 at one in ten, 0.080
// at one in two). A near set of 8 is the shortlist a peer probes anyway.
func DefaultEmbedConfig() EmbedConfig {
	return EmbedConfig{
		Vivaldi:      DefaultVivaldiConfig(),
		Steps:        300,
		Samples:      4,
		NearFraction: 0.1,
		NearSet:      8,
		Seed:         1,
	}
}

// Validate reports whether every setting is in its range.
func (c EmbedConfig) Validate() error {
	if err := c.Vivaldi.Validate(); err != nil {
		return err
	}
	switch {
	case c.Steps < 1:
		return fmt.Errorf("topology: embedding needs Steps >= 1, got %d", c.Steps)
	case c.Samples < 1:
		return fmt.Errorf("topology: embedding needs Samples >= 1 per peer and step, got %d", c.Samples)
	case !(c.NearFraction >= 0 && c.NearFraction <= 1):
		return fmt.Errorf("topology: embedding NearFraction is %v, want 0 to 1", c.NearFraction)
	case c.NearSet < 0:
		return fmt.Errorf("topology: embedding NearSet is %d, want >= 0", c.NearSet)
	case c.NearFraction > 0 && c.NearSet == 0:
		return fmt.Errorf("topology: embedding NearFraction is %v but NearSet is 0: no near peers to sample", c.NearFraction)
	}
	return nil
}

// EmbedMatrix runs the coordinate system over the RTT matrix m the way live
// peers would and returns each peer's final coordinate. In each of
// cfg.Steps steps every peer, in a random order, takes cfg.Samples RTT
// samples: to a peer chosen uniformly at random, or with probability
// cfg.NearFraction to one of the cfg.NearSet lowest-RTT peers it has
// measured so far. It reads the RTT from row i, column j (i the prober)
// and updates its coordinate from that peer's current one. A sample whose
// RTT is unknown, zero or above MaxCoordMagnitude is lost, as a failed
// probe would be. The result is deterministic for a given cfg.Seed.
func EmbedMatrix(m *LatencyMatrix, cfg EmbedConfig) ([]Coord, error) {
	if err := m.shapeError(); err != nil {
		return nil, err
	}
	if m.N < 2 {
		return nil, fmt.Errorf("topology: embedding needs at least 2 peers, the latency matrix has %d", m.N)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := m.N
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x656d626564))
	clients := make([]*Vivaldi, n)
	coords := make([]Coord, n)
	near := make([]nearPeers, n)
	for i := range n {
		vc := cfg.Vivaldi
		vc.Seed = rng.Uint64()
		v, err := NewVivaldi(vc)
		if err != nil {
			return nil, err
		}
		clients[i], coords[i] = v, v.Coord()
		near[i] = nearPeers{size: cfg.NearSet}
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("peer-%d", i)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	for range cfg.Steps {
		rng.Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
		for _, i := range order {
			for range cfg.Samples {
				j := pickProbe(rng, i, n, &near[i], cfg.NearFraction)
				ms := m.At(i, j)
				rtt := time.Duration(ms * float64(time.Millisecond))
				if !known(ms) || rtt <= 0 || rtt > MaxCoordMagnitude {
					continue
				}
				c, err := clients[i].Update(ids[j], coords[j], rtt)
				if err != nil {
					return nil, fmt.Errorf("topology: embedding peer %d with a sample to peer %d: %w", i, j, err)
				}
				coords[i] = c
				near[i].offer(j, ms)
			}
		}
	}
	return coords, nil
}

// pickProbe chooses the peer that peer self samples next.
func pickProbe(rng *rand.Rand, self, n int, near *nearPeers, nearFraction float64) int {
	if len(near.peers) > 0 && rng.Float64() < nearFraction {
		return near.peers[rng.IntN(len(near.peers))].peer
	}
	j := rng.IntN(n - 1)
	if j >= self {
		j++
	}
	return j
}

// nearPeers is the short list of the lowest RTTs a peer has measured, the
// neighbours a live peer keeps probing.
type nearPeers struct {
	size  int
	peers []measuredPeer // ascending by RTT
}

type measuredPeer struct {
	peer int
	ms   float64
}

// offer records an RTT measurement to peer, keeping the size lowest
// distinct peers.
func (np *nearPeers) offer(peer int, ms float64) {
	if np.size == 0 || math.IsNaN(ms) {
		return
	}
	if at := slices.IndexFunc(np.peers, func(p measuredPeer) bool { return p.peer == peer }); at >= 0 {
		np.peers = slices.Delete(np.peers, at, at+1)
	}
	at, _ := slices.BinarySearchFunc(np.peers, ms, func(p measuredPeer, ms float64) int {
		switch {
		case p.ms < ms:
			return -1
		case p.ms > ms:
			return 1
		}
		return 0
	})
	if at >= np.size {
		return
	}
	np.peers = slices.Insert(np.peers, at, measuredPeer{peer, ms})
	if len(np.peers) > np.size {
		np.peers = np.peers[:np.size]
	}
}
