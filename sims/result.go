package sims

import "math"

// Record is the state of the simulated mesh once every peer has finished
// Round rounds. Accuracies and losses are over the evaluation test set (the
// full test set at the last round).
type Record struct {
	Round            int     `json:"round"`
	VirtualSeconds   float64 `json:"virtual_seconds"` // when the slowest peer finished the round
	SamplesSeen      int64   `json:"samples_seen"`    // training samples processed by all peers
	AccuracyMean     float64 `json:"test_accuracy_mean"`
	AccuracyMin      float64 `json:"test_accuracy_min"`
	AccuracyMax      float64 `json:"test_accuracy_max"`
	TestLoss         float64 `json:"test_loss_mean"`
	TrainLoss        float64 `json:"train_loss_mean"`     // minibatch loss over the rounds since the previous record; NaN at round 0
	Consensus        float64 `json:"consensus_distance"`  // mean ‖x_i − x̄‖²
	BytesSentPerPeer float64 `json:"bytes_sent_per_peer"` // cumulative
}

// Summary is the headline of a run, written as summary.json.
type Summary struct {
	FinalTestAccuracy    float64 `json:"final_test_accuracy"` // mean over peers, full test set
	FinalTestAccuracyMin float64 `json:"final_test_accuracy_min"`
	FinalTestAccuracyMax float64 `json:"final_test_accuracy_max"`
	FinalTestLoss        float64 `json:"final_test_loss"`
	// FinalTestPerplexity is exp(FinalTestLoss) for language models on
	// text data, whose loss is in nats per token; absent otherwise.
	FinalTestPerplexity    *float64       `json:"final_test_perplexity,omitempty"`
	FinalConsensusDistance float64        `json:"final_consensus_distance"`
	Rounds                 int            `json:"rounds"`
	SamplesSeen            int64          `json:"samples_seen"`
	BytesSentPerPeer       float64        `json:"bytes_sent_per_peer"`
	VirtualSeconds         float64        `json:"virtual_seconds"`
	WallSeconds            float64        `json:"wall_seconds"`
	TargetAccuracy         *float64       `json:"target_accuracy"`
	VirtualSecondsToTarget *float64       `json:"virtual_seconds_to_target"` // null if never reached
	Peers                  int            `json:"peers"`
	Params                 int            `json:"params"`
	SpectralGap            *float64       `json:"spectral_gap"`
	LabelSkew              *float64       `json:"label_skew"`
	Overlay                *OverlayFacts  `json:"overlay,omitempty"`
	Mobility               *MobilityStats `json:"mobility,omitempty"`
	// DeadlineRounds counts, over all peers, the rounds that ended by
	// deadline, and LostMessages the vectors their receiver could not mix:
	// their round had ended by deadline, or was beyond the receiver's
	// window (both 0 without a round timeout).
	DeadlineRounds int `json:"rounds_ended_by_deadline"`
	LostMessages   int `json:"messages_lost"`
}

// MobilityStats counts what moving devices did to a run.
type MobilityStats struct {
	Moves     int `json:"moves"`            // mobility steps taken
	Replans   int `json:"replans"`          // steps after which the overlay changed
	Changes   int `json:"neighbor_changes"` // links added or removed, over all replans
	MinDegree int `json:"min_degree"`       // fewest links any peer had after any replan
	Dropped   int `json:"messages_dropped"` // messages lost across re-plans
}

// Result is what a run produced.
type Result struct {
	Records []Record
	Summary
	// Final holds every peer's parameters after the last round, in peer
	// order (one vector for centralized training).
	Final [][]float32
}

func (e *Experiment) summarize(points []*evalPoint, end float64) *Result {
	n := e.peers()
	res := &Result{}
	var bytes float64
	for _, p := range points {
		bytes += p.bytes
		r := Record{Round: p.k, VirtualSeconds: p.reachedAt, SamplesSeen: int64(p.k) * int64(e.Batch) * int64(n),
			AccuracyMin: math.Inf(1), AccuracyMax: math.Inf(-1), TrainLoss: math.NaN(),
			Consensus: consensusDistance(p.params), BytesSentPerPeer: bytes / float64(n)}
		for _, s := range p.scores {
			r.AccuracyMean += s.Accuracy / float64(n)
			r.TestLoss += s.Loss / float64(n)
			r.AccuracyMin = min(r.AccuracyMin, s.Accuracy)
			r.AccuracyMax = max(r.AccuracyMax, s.Accuracy)
		}
		if p.lossN > 0 {
			r.TrainLoss = p.lossSum / float64(p.lossN)
		}
		res.Records = append(res.Records, r)
	}
	last := res.Records[len(res.Records)-1]
	res.Summary = Summary{
		FinalTestAccuracy: last.AccuracyMean, FinalTestAccuracyMin: last.AccuracyMin, FinalTestAccuracyMax: last.AccuracyMax,
		FinalTestLoss: last.TestLoss, FinalConsensusDistance: last.Consensus, Rounds: last.Round,
		SamplesSeen: last.SamplesSeen, BytesSentPerPeer: last.BytesSentPerPeer, VirtualSeconds: end,
		Peers: n, Params: len(e.Init), SpectralGap: e.SpectralGap, LabelSkew: e.LabelSkew, Overlay: e.Overlay,
	}
	res.Final = points[len(points)-1].params
	if e.Test != nil && e.Test.Vocab != nil {
		ppl := math.Exp(last.TestLoss)
		res.FinalTestPerplexity = &ppl
	}
	if e.Target > 0 {
		t := e.Target
		res.TargetAccuracy = &t
		for _, r := range res.Records {
			if r.AccuracyMean >= t {
				v := r.VirtualSeconds
				res.VirtualSecondsToTarget = &v
				break
			}
		}
	}
	return res
}

// consensusDistance is the mean squared distance of the models from their
// average, accumulated in float64.
func consensusDistance(xs [][]float32) float64 {
	if len(xs) < 2 {
		return 0
	}
	dim := len(xs[0])
	mean := make([]float64, dim)
	for _, x := range xs {
		for j, v := range x {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(len(xs))
	}
	var sum float64
	for _, x := range xs {
		for j, v := range x {
			d := float64(v) - mean[j]
			sum += d * d
		}
	}
	return sum / float64(len(xs))
}
