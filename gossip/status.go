package gossip

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/topology"
	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/wire"
)

// Status is a snapshot of a peer, served as JSON on /status. The fields of
// its parts stand in the JSON beside its own.
type Status struct {
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"`
	Run    string   `json:"run"`
	TrainingStatus
	NeighborhoodStatus
	TrafficStatus
	GPU *GPUStatus `json:"gpu,omitempty"` // nil when the shell passed no GPUStatus
	// Capabilities are what each member heard from announced it brings.
	Capabilities []CapabilityStatus `json:"capabilities"`
}

// TrainingStatus is where the peer is in training.
type TrainingStatus struct {
	Round         int      `json:"round"`
	JoinedAt      int      `json:"joined_at_round"` // round the peer started at (> 0 after catching up)
	Rounds        int      `json:"rounds"`
	Loss          float64  `json:"loss"` // training minibatch loss, smoothed
	TestAccuracy  *float64 `json:"test_accuracy"`
	TestLoss      *float64 `json:"test_loss"`
	EvaluatedAt   int      `json:"evaluated_at_round"`
	SamplesPerSec float64  `json:"samples_per_sec"`
}

// NeighborhoodStatus is whom the peer mixes with and what it knows of the
// network.
type NeighborhoodStatus struct {
	Policy     string           `json:"policy"`    // neighbor selection: random, latency or latency+long
	Neighbors  []NeighborStatus `json:"neighbors"` // active links: both ends accept them
	Proposals  []ProposalStatus `json:"proposals"` // links this peer announces it wants
	RTT        []RTTStatus      `json:"rtt"`       // every member measured, neighbors or not
	Coordinate CoordStatus      `json:"coordinate"`
	Members    int              `json:"members"`
	// UplinkMbps is the uplink rate this peer states (0: none), and
	// MaxLinks how many links it allows this peer (0: no cap of its own).
	UplinkMbps float64 `json:"uplink_mbps"`
	MaxLinks   int     `json:"max_links"`
}

// TrafficStatus counts what the peer sent, received and gave up on.
type TrafficStatus struct {
	BytesIn   int64 `json:"bytes_in"`  // parameter and control payload received
	BytesOut  int64 `json:"bytes_out"` // payload published × subscribers it went to
	Rejected  int64 `json:"rejected_messages"`
	Deadlines int64 `json:"rounds_ended_by_deadline"`
	Changes   int64 `json:"neighbor_changes"`
}

// NeighborStatus describes one active link.
type NeighborStatus struct {
	PeerID   string  `json:"peer_id"`
	Long     bool    `json:"long"`       // mixed asynchronously every LongPeriod rounds
	Weight   float64 `json:"weight"`     // Metropolis weight
	RTTms    float64 `json:"rtt_ms"`     // smoothed measured RTT, 0 until measured
	EstRTTms float64 `json:"est_rtt_ms"` // from network coordinates, 0 when unknown
	Mixed    int64   `json:"vectors_mixed"`
}

// ProposalStatus is one link this peer proposes, as its heartbeat says.
type ProposalStatus struct {
	PeerID string  `json:"peer_id"`
	Long   bool    `json:"long"`
	Slow   bool    `json:"slow,omitempty"` // a link this peer finds too slow to mix every round
	RTTms  float64 `json:"rtt_ms"`         // the RTT announced with it (measured, else estimated)
}

// CoordStatus is this peer's Vivaldi network coordinate.
type CoordStatus struct {
	Vec      []float64 `json:"vec_ms"`
	HeightMS float64   `json:"height_ms"`
	Error    float64   `json:"error"` // the coordinate's own uncertainty: 1.5 when new, falls as samples fit
}

// RTTStatus is what a peer measured of its round-trip time to another.
type RTTStatus struct {
	PeerID    string  `json:"peer_id"`
	RTTms     float64 `json:"rtt_ms"`      // smoothed: moving median, then EWMA
	LastRTTms float64 `json:"last_rtt_ms"` // latest sample
	Source    string  `json:"source"`      // of the latest sample: quic, yamux or ping
	Samples   int     `json:"samples"`
	EstRTTms  float64 `json:"est_rtt_ms"` // from network coordinates, 0 when unknown
}

// Summary is what a finished peer reports in summary.json.
type Summary struct {
	PeerID            string   `json:"peer_id"`
	Run               string   `json:"run"`
	FinalTestAccuracy float64  `json:"final_test_accuracy"`
	FinalTestLoss     float64  `json:"final_test_loss"`
	Rounds            int      `json:"rounds"`
	Neighbors         []string `json:"neighbors"`      // active links of the last round, near and long
	LongNeighbors     []string `json:"long_neighbors"` // those of Neighbors that are long
	BytesIn           int64    `json:"bytes_in"`
	BytesOut          int64    `json:"bytes_out"`
	Rejected          int64    `json:"rejected_messages"`
	Deadlines         int64    `json:"rounds_ended_by_deadline"`
	NeighborChanges   int64    `json:"neighbor_changes"`
	Published         int64    `json:"rounds_published"`      // rounds sent on the parameter topic
	LongPublished     int64    `json:"long_rounds_published"` // rounds sent on the long topic
}

// stats is the peer's running tally, shared with the status server.
type stats struct {
	mu          sync.Mutex
	joinedAt    int
	round       int
	loss        float64
	eval        *training.Evaluation
	evalRound   int
	policy      string
	links       []link                   // active links, sorted
	proposals   []topology.Link          // announced
	estimates   map[string]time.Duration // by peer ID string, from the last plan
	maxLinks    int                      // links this peer's uplink allows (0: no cap)
	mixed       map[peer.ID]int64
	in, out     int64
	rejected    int64
	deadlines   int64
	changes     int64
	published   int64
	longSent    int64
	computeTime time.Duration // smoothed duration of one local step
}

func (s *stats) noteRound(r training.RoundResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.round = r.Round + 1
	if s.loss == 0 {
		s.loss = r.Loss
	} else {
		s.loss = 0.9*s.loss + 0.1*r.Loss
	}
}

func (s *stats) noteStart(round int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.joinedAt, s.round = round, round
}

func (s *stats) setEval(round int, e training.Evaluation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if round >= s.evalRound {
		s.eval, s.evalRound = &e, round
	}
}

func (s *stats) noteMixed(id peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mixed == nil {
		s.mixed = map[peer.ID]int64{}
	}
	s.mixed[id]++
}

func (s *stats) setLinks(links []link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.links = slices.Clone(links)
}

func (s *stats) setPlan(d topology.Decision, estimates map[string]time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proposals, s.estimates, s.maxLinks = d.Propose, estimates, d.MaxLinks
}

func (s *stats) forget(id peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mixed, id) // /status lists current neighbors only
}

func (s *stats) noteIn(n int)     { s.mu.Lock(); s.in += int64(n); s.mu.Unlock() }
func (s *stats) noteOut(n int)    { s.mu.Lock(); s.out += int64(n); s.mu.Unlock() }
func (s *stats) noteRejected()    { s.mu.Lock(); s.rejected++; s.mu.Unlock() }
func (s *stats) noteDeadline()    { s.mu.Lock(); s.deadlines++; s.mu.Unlock() }
func (s *stats) noteChange()      { s.mu.Lock(); s.changes++; s.mu.Unlock() }
func (s *stats) notePublish()     { s.mu.Lock(); s.published++; s.mu.Unlock() }
func (s *stats) noteLongPublish() { s.mu.Lock(); s.longSent++; s.mu.Unlock() }

func (s *stats) noteCompute(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.computeTime == 0 {
		s.computeTime = d
	} else {
		s.computeTime = (7*s.computeTime + d) / 8
	}
}

func (s *stats) samplesPerSecWith(batch int) float64 {
	if s.computeTime <= 0 || batch <= 0 {
		return 0
	}
	return float64(batch) / s.computeTime.Seconds()
}

func (p *Peer) samplesPerSec() float64 {
	p.stats.mu.Lock()
	defer p.stats.mu.Unlock()
	return p.stats.samplesPerSecWith(p.cfg.Batch)
}

// Status returns a snapshot; safe to call from any goroutine.
func (p *Peer) Status() Status {
	members := len(p.net.Members())
	var gpu *GPUStatus
	if p.cfg.GPUStatus != nil {
		g := p.cfg.GPUStatus()
		gpu = &g
	}
	s := &p.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{PeerID: p.self.String(), Run: p.cfg.Run, GPU: gpu,
		TrainingStatus: TrainingStatus{Round: s.round, JoinedAt: s.joinedAt, Rounds: p.cfg.Learning.Rounds, Loss: s.loss,
			EvaluatedAt: s.evalRound, SamplesPerSec: s.samplesPerSecWith(p.cfg.Batch)},
		NeighborhoodStatus: NeighborhoodStatus{Policy: s.policy, Members: members,
			UplinkMbps: float64(wire.UplinkKbps(p.cfg.UplinkBitsPerSec)) / 1000, MaxLinks: s.maxLinks},
		TrafficStatus: TrafficStatus{BytesIn: s.in, BytesOut: s.out, Rejected: s.rejected, Deadlines: s.deadlines, Changes: s.changes}}
	st.Capabilities = p.caps.list(s.links)
	st.Addrs = p.net.Addrs()
	if s.eval != nil {
		acc, loss := s.eval.Accuracy, s.eval.Loss
		st.TestAccuracy, st.TestLoss = &acc, &loss
	}
	for _, l := range s.links {
		st.Neighbors = append(st.Neighbors, NeighborStatus{PeerID: l.id.String(), Long: l.long, Weight: l.weight,
			RTTms: millis(p.neighbors.rtt.smoothed(l.id)), EstRTTms: millis(s.estimates[l.id.String()]), Mixed: s.mixed[l.id]})
	}
	for _, l := range s.proposals {
		st.Proposals = append(st.Proposals, ProposalStatus{PeerID: l.ID, Long: l.Long, Slow: l.Slow, RTTms: millis(l.RTT)})
	}
	for _, id := range p.neighbors.rtt.ids() {
		if r, ok := p.neighbors.rtt.get(id); ok {
			st.RTT = append(st.RTT, RTTStatus{PeerID: id.String(), RTTms: millis(r.Smoothed), LastRTTms: millis(r.Last),
				Source: string(r.Source), Samples: r.Samples, EstRTTms: millis(s.estimates[id.String()])})
		}
	}
	c := p.neighbors.vivaldi.Coord() // Vivaldi is safe for concurrent use
	st.Coordinate = CoordStatus{HeightMS: c.Height * 1000, Error: c.Error}
	for _, v := range c.Vec {
		st.Coordinate.Vec = append(st.Coordinate.Vec, v*1000)
	}
	return st
}

func (p *Peer) summary() *Summary {
	st := p.Status()
	sum := &Summary{PeerID: st.PeerID, Run: st.Run, Rounds: st.Round, BytesIn: st.BytesIn, BytesOut: st.BytesOut,
		Rejected: st.Rejected, Deadlines: st.Deadlines, NeighborChanges: st.Changes, Neighbors: []string{}}
	p.stats.mu.Lock()
	sum.Published, sum.LongPublished = p.stats.published, p.stats.longSent
	p.stats.mu.Unlock()
	if st.TestAccuracy != nil {
		sum.FinalTestAccuracy, sum.FinalTestLoss = *st.TestAccuracy, *st.TestLoss
	}
	sum.LongNeighbors = []string{}
	links := p.neighbors.finalLinks
	if links == nil { // stopped before the last round
		links = p.neighbors.links
	}
	for _, l := range links {
		sum.Neighbors = append(sum.Neighbors, l.id.String())
		if l.long {
			sum.LongNeighbors = append(sum.LongNeighbors, l.id.String())
		}
	}
	return sum
}

// WritePrometheus writes the status in the Prometheus text exposition format.
func (st Status) WritePrometheus(w io.Writer) {
	metric := func(name, help, kind string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, kind, name, num(v))
	}
	metric("gradmesh_round", "Rounds this peer has finished.", "gauge", float64(st.Round))
	metric("gradmesh_train_loss", "Smoothed training minibatch loss.", "gauge", st.Loss)
	if st.TestAccuracy != nil {
		metric("gradmesh_test_accuracy", "Test accuracy at the last evaluation.", "gauge", *st.TestAccuracy)
	}
	if st.GPU != nil {
		st.GPU.writePrometheus(w)
	}
	metric("gradmesh_members", "Connected peers of the run.", "gauge", float64(st.Members))
	metric("gradmesh_neighbors", "Active links this peer mixes over, near and long.", "gauge", float64(len(st.Neighbors)))
	long := 0
	for _, nb := range st.Neighbors {
		if nb.Long {
			long++
		}
	}
	metric("gradmesh_long_neighbors", "Active long links, mixed asynchronously every few rounds.", "gauge", float64(long))
	metric("gradmesh_coordinate_error", "Uncertainty of this peer's network coordinate (1.5 when new).", "gauge", st.Coordinate.Error)
	metric("gradmesh_bytes_in_total", "Payload bytes received.", "counter", float64(st.BytesIn))
	metric("gradmesh_bytes_out_total", "Payload bytes sent.", "counter", float64(st.BytesOut))
	metric("gradmesh_rejected_messages_total", "Messages rejected by validation.", "counter", float64(st.Rejected))
	metric("gradmesh_deadline_rounds_total", "Rounds ended by the deadline rather than by all neighbors arriving.", "counter", float64(st.Deadlines))
	metric("gradmesh_samples_per_second", "Local training throughput.", "gauge", st.SamplesPerSec)
	metric("gradmesh_max_links", "Links this peer's stated uplink allows it (0: no cap of its own).", "gauge", float64(st.MaxLinks))
	fmt.Fprintf(w, "# HELP gradmesh_neighbor_rtt_seconds Round-trip time to each neighbor, smoothed.\n# TYPE gradmesh_neighbor_rtt_seconds gauge\n")
	for _, nb := range st.Neighbors {
		fmt.Fprintf(w, "gradmesh_neighbor_rtt_seconds{peer=%q} %s\n", nb.PeerID, num(nb.RTTms/1000))
	}
	fmt.Fprintf(w, "# HELP gradmesh_peer_rtt_seconds Round-trip time to each measured member, smoothed (moving median, then EWMA).\n# TYPE gradmesh_peer_rtt_seconds gauge\n")
	for _, r := range st.RTT {
		fmt.Fprintf(w, "gradmesh_peer_rtt_seconds{peer=%q} %s\n", r.PeerID, num(r.RTTms/1000))
	}
	fmt.Fprintf(w, "# HELP gradmesh_peer_rtt_estimate_seconds Round-trip time to each measured member that network coordinates predict.\n# TYPE gradmesh_peer_rtt_estimate_seconds gauge\n")
	for _, r := range st.RTT {
		if r.EstRTTms > 0 {
			fmt.Fprintf(w, "gradmesh_peer_rtt_estimate_seconds{peer=%q} %s\n", r.PeerID, num(r.EstRTTms/1000))
		}
	}
	fmt.Fprintf(w, "# HELP gradmesh_peer_rtt_last_seconds Latest round-trip-time sample to each measured member, by source.\n# TYPE gradmesh_peer_rtt_last_seconds gauge\n")
	for _, r := range st.RTT {
		fmt.Fprintf(w, "gradmesh_peer_rtt_last_seconds{peer=%q,source=%q} %s\n", r.PeerID, r.Source, num(r.LastRTTms/1000))
	}
}

// millis converts a duration to fractional milliseconds.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func num(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return fmt.Sprintf("%g", v)
}
