package topology

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// maxOverlayIterations bounds BuildOverlay's heartbeat exchanges. Meshes of
// a thousand peers settle in a few dozen; a run that has not by then is
// oscillating and reported as ErrNotConverged.
const maxOverlayIterations = 200

var (
	// ErrDisconnected means the agreed overlay falls into components that
	// never exchange models, so their peers never agree.
	ErrDisconnected = errors.New("topology: overlay is disconnected")
	// ErrNotConverged means the proposals still changed after the most
	// heartbeat exchanges BuildOverlay runs.
	ErrNotConverged = errors.New("topology: neighbor selection did not converge")
)

// Overlay is the agreed neighbor graph: the active edges between peers
// IDs[0..N-1] and which of them are mixed asynchronously. It also
// remembers what each peer proposed, so that re-planning resumes from it.
type Overlay struct {
	IDs   []string
	Graph *Graph
	async [][]bool // aligned with Graph.Adj
	props [][]Link // each peer's proposals
	caps  []int    // each peer's link cap from its uplink (0: none)
}

// MaxLinks is how many links peer i's uplink allows it (0: no cap of its
// own, or out of range).
func (o *Overlay) MaxLinks(i int) int {
	if o == nil || i < 0 || i >= len(o.caps) {
		return 0
	}
	return o.caps[i]
}

// IsAsync reports whether i–j is an active edge mixed asynchronously every
// LongPeriod rounds: either end found it slower than AsyncRTT, or it is a
// long-range edge of unknown RTT. It is false for edges mixed every round,
// non-edges and out-of-range peers.
func (o *Overlay) IsAsync(i, j int) bool {
	if o == nil || o.Graph == nil || i < 0 || i >= len(o.Graph.Adj) {
		return false
	}
	k, ok := slices.BinarySearch(o.Graph.Adj[i], j)
	return ok && o.async[i][k]
}

// AsyncEdges returns the number of active edges mixed asynchronously.
func (o *Overlay) AsyncEdges() int {
	if o == nil {
		return 0
	}
	n := 0
	for i, flags := range o.async {
		for k, async := range flags {
			if async && o.Graph.Adj[i][k] > i {
				n++
			}
		}
	}
	return n
}

// Proposals returns what peer i proposed in the last exchange (nil if i
// is out of range).
func (o *Overlay) Proposals(i int) []Link {
	if o == nil || i < 0 || i >= len(o.props) {
		return nil
	}
	return slices.Clone(o.props[i])
}

// Convergence describes how BuildOverlay reached its overlay.
type Convergence struct {
	Iterations int  // heartbeat exchanges run
	Converged  bool // the last exchange changed no proposal and no refusal was still remembered
	Changes    int  // changed proposal lists, summed over peers and exchanges
	Refusals   int  // refused proposals, summed over exchanges
	// MinDegree is the smallest active degree any peer had after any
	// exchange (and in prev, when re-planning): 0 means some peer was
	// left without anyone to mix with at some point.
	MinDegree int
}

// BuildOverlay runs the neighbor-selection protocol for all peers at once,
// one Planner per peer, until it converges. Each iteration is one
// heartbeat exchange: every peer plans from the announcements of the last
// exchange (measuring the peers it chose to probe in earlier ones), then
// every peer hears every announcement. est(i, j) and rtt(i, j) give the
// estimated and measured RTT from peer i to peer j (0 or below = unknown);
// ids names the peers. prev, when non-nil, is an earlier overlay (say,
// before latencies changed): peers resume from the proposals it records,
// matched by ID, so hysteresis applies.
//
// Bad input (no peers, empty or repeated IDs, a nil function, an invalid
// config) returns a nil overlay and an error saying what is wrong. Two
// errors come with the overlay, for the caller to decide whether to run
// anyway: ErrNotConverged when the proposals never settled within 200
// exchanges, and ErrDisconnected (with a hint) when peers fall into
// components that never agree.
func BuildOverlay(ids []string, est, rtt func(i, j int) time.Duration, cfg SelectConfig, prev *Overlay) (*Overlay, Convergence, error) {
	return BuildOverlayFunc(ids, est, rtt, cfg, prev, nil, nil)
}

// BuildOverlayFunc is BuildOverlay with each peer announcing its uplink
// rate (uplinks[i], bits/s; a nil slice or 0 means unknown), which with
// cfg.MessageBytes caps its links, calling each with every intermediate
// overlay: iteration 0 is the starting state (prev's agreed edges, or no
// edges), then one call per heartbeat exchange. each may be nil and must
// not modify the overlay.
func BuildOverlayFunc(ids []string, est, rtt func(i, j int) time.Duration, cfg SelectConfig, prev *Overlay,
	uplinks []float64, each func(iteration int, o *Overlay)) (*Overlay, Convergence, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, Convergence{}, err
	}
	if est == nil || rtt == nil {
		return nil, Convergence{}, fmt.Errorf("topology: overlay needs both estimated and measured RTT functions")
	}
	index, err := indexPeers(ids)
	if err != nil {
		return nil, Convergence{}, err
	}
	n := len(ids)
	if uplinks != nil && len(uplinks) != n {
		return nil, Convergence{}, fmt.Errorf("topology: %d uplink rates for %d peers", len(uplinks), n)
	}
	planners := make([]*Planner, n)
	anns := make([]Announcement, n)
	measured := make([][]bool, n) // measured[i][j]: i has probed j
	var prevAt map[string]int
	if prev != nil {
		prevAt = make(map[string]int, len(prev.IDs))
		for k, id := range prev.IDs {
			prevAt[id] = k
		}
	}
	for i, id := range ids {
		planners[i], _ = NewPlanner(id, cfg) // cannot fail: id and cfg are checked
		if uplinks != nil {
			planners[i].SetUplink(uplinks[i])
		}
		measured[i] = make([]bool, n)
		if prev != nil {
			if at, ok := prevAt[id]; ok && at < len(prev.props) {
				planners[i].Resume(prev.props[at])
			}
		}
		anns[i] = Announcement{From: id, Proposals: planners[i].current, UplinkBitsPerSec: planners[i].uplink}
		for _, l := range planners[i].current {
			if j, ok := index[l.ID]; ok {
				measured[i][j] = true // current links are kept measured
			}
		}
	}
	view := NewView(cfg, anns)
	o := overlayFromView(ids, index, view, anns)
	if each != nil {
		each(0, o)
	}
	conv := Convergence{MinDegree: n - 1}
	if prev != nil {
		conv.MinDegree = minDegree(o.Graph)
	}
	cands := make([]Candidate, 0, n)
	for it := 1; it <= maxOverlayIterations; it++ {
		changed, pending := 0, false
		for i, pl := range planners {
			cands = cands[:0]
			for j := range n {
				if j == i {
					continue
				}
				c := Candidate{ID: ids[j], EstRTT: est(i, j)}
				if measured[i][j] {
					c.RTT = rtt(i, j)
				}
				cands = append(cands, c)
			}
			before := pl.current
			conv.Refusals += len(pl.plan(cands, view))
			if !slices.Equal(before, pl.current) {
				changed++
			}
			pending = pending || pl.remembersRefusals()
			anns[i].Proposals = pl.current
			for _, id := range cfg.ShortlistFor(ids[i], cands, pl.current) {
				measured[i][index[id]] = true
			}
		}
		view = NewView(cfg, anns)
		o = overlayFromView(ids, index, view, anns)
		if each != nil {
			each(it, o)
		}
		conv.Iterations = it
		conv.Changes += changed
		conv.MinDegree = min(conv.MinDegree, minDegree(o.Graph))
		if changed == 0 && !pending {
			conv.Converged = true
			break
		}
	}
	if n == 1 {
		conv.MinDegree = 0
	}
	if !conv.Converged {
		return o, conv, fmt.Errorf("%w after %d heartbeat exchanges (%d peers, policy %s)",
			ErrNotConverged, conv.Iterations, n, cfg.Policy)
	}
	if sizes := componentSizes(o.Graph); len(sizes) > 1 {
		return o, conv, fmt.Errorf("%w: %d peers fall into %d components (sizes %s) whose models never meet; "+
			"add long-range links (policy %s, Long >= 1) or raise Degree (now %d)",
			ErrDisconnected, n, len(sizes), formatSizes(sizes), PolicyLatencyLong, cfg.Degree)
	}
	return o, conv, nil
}

// indexPeers maps each ID to its position; IDs must be non-empty and
// distinct.
func indexPeers(ids []string) (map[string]int, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("topology: overlay needs at least one peer")
	}
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("topology: overlay peer %d has an empty ID", i)
		}
		if first, dup := index[id]; dup {
			return nil, fmt.Errorf("topology: overlay peer ID %q appears twice (peers %d and %d)", id, first, i)
		}
		index[id] = i
	}
	return index, nil
}

// overlayFromView builds the overlay of the view's active edges; index
// maps each ID to its position in ids.
func overlayFromView(ids []string, index map[string]int, view *View, anns []Announcement) *Overlay {
	o := &Overlay{IDs: ids, props: make([][]Link, len(ids)), async: make([][]bool, len(ids)), caps: make([]int, len(ids))}
	adj := make([][]int, len(ids))
	for i, id := range ids {
		o.props[i] = slices.Clone(anns[i].Proposals)
		o.caps[i] = view.MaxLinks(id)
		for _, l := range view.Active(id) { // sorted by ID, not by index
			if j, ok := index[l.ID]; ok {
				adj[i] = append(adj[i], j)
			}
		}
		slices.Sort(adj[i])
		if adj[i] == nil {
			adj[i] = []int{}
		}
		o.async[i] = make([]bool, len(adj[i]))
	}
	for i, id := range ids {
		for _, l := range view.Active(id) {
			if j, ok := index[l.ID]; ok && l.Long {
				k, _ := slices.BinarySearch(adj[i], j)
				o.async[i][k] = true
			}
		}
	}
	o.Graph = &Graph{N: len(ids), Adj: adj}
	return o
}

// minDegree is the smallest degree in g (0 for a graph without peers).
func minDegree(g *Graph) int {
	if g.N == 0 {
		return 0
	}
	least := g.N
	for _, nb := range g.Adj {
		least = min(least, len(nb))
	}
	return least
}

// componentSizes returns the sizes of g's connected components, largest
// first.
func componentSizes(g *Graph) []int {
	comp := make([]int, g.N)
	for i := range comp {
		comp[i] = -1
	}
	var sizes []int
	for start := range g.N {
		if comp[start] >= 0 {
			continue
		}
		c := len(sizes)
		comp[start] = c
		size := 0
		for stack := []int{start}; len(stack) > 0; {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			size++
			for _, j := range g.Adj[i] {
				if comp[j] < 0 {
					comp[j] = c
					stack = append(stack, j)
				}
			}
		}
		sizes = append(sizes, size)
	}
	slices.SortFunc(sizes, func(a, b int) int { return b - a })
	return sizes
}

// formatSizes lists component sizes, eliding beyond the first eight.
func formatSizes(sizes []int) string {
	var b strings.Builder
	for k, s := range sizes {
		if k == 8 {
			fmt.Fprintf(&b, ", … %d more", len(sizes)-k)
			break
		}
		if k > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, s)
	}
	return b.String()
}
