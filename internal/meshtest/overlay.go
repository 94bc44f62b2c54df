package meshtest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/topology"
)

// Edge is an undirected overlay link between host indices, lower first.
type Edge [2]int

func NewEdge(i, j int) Edge { return Edge{min(i, j), max(i, j)} }

// Links is an overlay as a set of links, each marked long (mixed
// asynchronously) or near (synchronous).
type Links map[Edge]bool

// LiveOverlay is the overlay the peers mixed on when they began round k:
// each peer's active links. A link only one end lists (the ends adopt a
// change a heartbeat apart) is reported in oneSided.
func (o *Outcome) LiveOverlay(k int) (links Links, oneSided []Edge, err error) {
	seen := map[Edge]int{}
	links = Links{}
	err = o.eachLink(k, func(i, j int, nb gossip.NeighborStatus) {
		e := NewEdge(i, j)
		seen[e]++
		links[e] = links[e] || nb.Long
	})
	if err != nil {
		return nil, nil, err
	}
	for e, n := range seen {
		if n != 2 {
			oneSided = append(oneSided, e)
		}
	}
	slices.SortFunc(oneSided, CompareEdges)
	return links, oneSided, nil
}

// PureLinks is BuildOverlay's overlay as links.
func PureLinks(o *topology.Overlay) Links {
	links := Links{}
	for i, adj := range o.Graph.Adj {
		for _, j := range adj {
			links[NewEdge(i, j)] = o.IsAsync(i, j)
		}
	}
	return links
}

// Diff lists the links only a has, only b has, and those both have
// with a different long flag.
func Diff(a, b Links) (onlyA, onlyB, flag []Edge) {
	for e, long := range a {
		if other, ok := b[e]; !ok {
			onlyA = append(onlyA, e)
		} else if other != long {
			flag = append(flag, e)
		}
	}
	for e := range b {
		if _, ok := a[e]; !ok {
			onlyB = append(onlyB, e)
		}
	}
	for _, s := range [][]Edge{onlyA, onlyB, flag} {
		slices.SortFunc(s, CompareEdges)
	}
	return onlyA, onlyB, flag
}

func CompareEdges(a, b Edge) int {
	if a[0] != b[0] {
		return a[0] - b[0]
	}
	return a[1] - b[1]
}

// Adjacency is the overlay's neighbor lists by host index.
func (l Links) Adjacency(n int) [][]int {
	adj := make([][]int, n)
	for e := range l {
		adj[e[0]] = append(adj[e[0]], e[1])
		adj[e[1]] = append(adj[e[1]], e[0])
	}
	for i := range adj {
		slices.Sort(adj[i])
	}
	return adj
}

func (l Links) String() string {
	es := make([]Edge, 0, len(l))
	for e := range l {
		es = append(es, e)
	}
	slices.SortFunc(es, CompareEdges)
	var b strings.Builder
	for _, e := range es {
		kind := "near"
		if l[e] {
			kind = "long"
		}
		fmt.Fprintf(&b, " %d-%d(%s)", e[0], e[1], kind)
	}
	return strings.TrimSpace(b.String())
}

// RoundTripRTT is the RTT a live peer can observe between hosts i and j on
// the simulated network: one way each direction, half of each row's RTT.
// A real round trip cannot show the matrix's asymmetry, so this is the
// input the pure policy must get to choose what the live peers can.
func RoundTripRTT(m *topology.LatencyMatrix) func(i, j int) time.Duration {
	return func(i, j int) time.Duration {
		return time.Duration((m.At(i, j) + m.At(j, i)) / 2 * float64(time.Millisecond))
	}
}

// LiveProposals is what each peer announced it proposes at round k.
func (o *Outcome) LiveProposals(k int) ([][]topology.Link, error) {
	props := make([][]topology.Link, len(o.Traces))
	for i, tr := range o.Traces {
		st, ok := tr.StatusAt(k)
		if !ok {
			return nil, fmt.Errorf("peer %d has no status at round %d", i, k)
		}
		for _, p := range st.Proposals {
			props[i] = append(props[i], topology.Link{ID: p.PeerID, Long: p.Long, Slow: p.Slow,
				RTT: time.Duration(p.RTTms * float64(time.Millisecond)).Round(time.Microsecond)})
		}
	}
	return props, nil
}

// Replan resumes one topology.Planner per peer from the given proposals
// and runs heartbeat exchanges in lockstep, every peer knowing every true
// RTT, until no proposal changes (or 50 exchanges). It returns the overlay
// the final announcements derive and how many exchanges changed something.
func Replan(ids []string, from [][]topology.Link, known func(i, j int) bool, rtt func(i, j int) time.Duration, cfg topology.SelectConfig) (Links, int, error) {
	n := len(ids)
	planners := make([]*topology.Planner, n)
	anns := make([]topology.Announcement, n)
	for i, id := range ids {
		p, err := topology.NewPlanner(id, cfg)
		if err != nil {
			return nil, 0, err
		}
		p.Resume(from[i])
		planners[i] = p
		anns[i] = topology.Announcement{From: id, Proposals: p.Current()}
	}
	changed := 0
	for range 50 {
		next := make([]topology.Announcement, n)
		moved := false
		for i, p := range planners {
			var cands []topology.Candidate
			for j := range n {
				switch {
				case j == i:
				case known(i, j):
					cands = append(cands, topology.Candidate{ID: ids[j], EstRTT: rtt(i, j), RTT: rtt(i, j)})
				default:
					cands = append(cands, topology.Candidate{ID: ids[j]})
				}
			}
			d := p.Plan(cands, anns)
			next[i] = topology.Announcement{From: ids[i], Proposals: d.Propose}
			same := slices.EqualFunc(d.Propose, anns[i].Proposals, func(a, b topology.Link) bool { return a.ID == b.ID && a.Long == b.Long }) // modes are compared apart, with the RTT ties they allow
			moved = moved || !same
		}
		anns = next
		if !moved {
			break
		}
		changed++
	}
	index := map[string]int{}
	for i, id := range ids {
		index[id] = i
	}
	view := topology.NewView(cfg, anns)
	links := Links{}
	for i, id := range ids {
		for _, l := range view.Active(id) {
			links[NewEdge(i, index[l.ID])] = l.Long
		}
	}
	return links, changed, nil
}

// MeasuredPairs tells, for round k, which members each peer had measured
// the RTT to (its status lists every member measured).
func (o *Outcome) MeasuredPairs(k int) ([][]bool, error) {
	n := len(o.Traces)
	known := make([][]bool, n)
	for i, tr := range o.Traces {
		known[i] = make([]bool, n)
		st, ok := tr.StatusAt(k)
		if !ok {
			return nil, fmt.Errorf("peer %d has no status at round %d", i, k)
		}
		for _, r := range st.RTT {
			if j := o.Index(r.PeerID); j >= 0 && r.Samples > 0 {
				known[i][j] = true
			}
		}
	}
	return known, nil
}

// LongCount is how many links are long.
func (l Links) LongCount() int {
	n := 0
	for _, long := range l {
		if long {
			n++
		}
	}
	return n
}

// MeanNearRTT is the mean RTT of the near (synchronous) links, in ms.
func (l Links) MeanNearRTT(rtt func(i, j int) time.Duration) float64 {
	var sum float64
	n := 0
	for e, long := range l {
		if !long {
			sum += float64(rtt(e[0], e[1])) / float64(time.Millisecond)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
