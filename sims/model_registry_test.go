package sims

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/training"
)

// biasModel exists only in this test and ships nowhere: the smallest model
// there is, one logit per class whatever the input, so it can learn no more
// than the label frequencies. This file and its init line are all it takes
// to train a new kind of model in the simulator (and in gradmesh sim and
// join, had it been registered from the training package).
type biasModel struct{ classes int }

func init() { training.RegisterModel("bias", "bias", newBiasModel) }

func newBiasModel(arg string, _ training.Shape, classes int) (training.Model, error) {
	if arg != "" {
		return nil, errors.New("bias takes no sizes")
	}
	return &biasModel{classes: classes}, nil
}

func (m *biasModel) Spec() string                        { return fmt.Sprintf("bias-%d", m.classes) }
func (m *biasModel) NumParams() int                      { return m.classes }
func (m *biasModel) Init(params []float32, _ *rand.Rand) { clear(params) }
func (m *biasModel) TrainFLOPs() float64                 { return float64(4 * m.classes) }
func (m *biasModel) Clone() training.Model               { return &biasModel{classes: m.classes} }

// logSoftmax returns log p_k of the logits.
func logSoftmax(logits []float32) []float64 {
	peak := math.Inf(-1)
	for _, v := range logits {
		peak = math.Max(peak, float64(v))
	}
	sum := 0.0
	for _, v := range logits {
		sum += math.Exp(float64(v) - peak)
	}
	out := make([]float64, len(logits))
	for k, v := range logits {
		out[k] = float64(v) - peak - math.Log(sum)
	}
	return out
}

// LossGrad: the gradient of the mean cross-entropy is p − (label frequencies).
func (m *biasModel) LossGrad(params, grad, _ []float32, y []int32) float64 {
	clear(grad)
	if len(y) == 0 {
		return 0
	}
	logp := logSoftmax(params)
	loss, n := 0.0, float64(len(y))
	for _, c := range y {
		loss -= logp[c]
		grad[c] -= float32(1 / n)
	}
	for k := range grad {
		grad[k] += float32(math.Exp(logp[k]))
	}
	return loss / n
}

func (m *biasModel) Evaluate(params, _ []float32, y []int32) (int, float64) {
	logp := logSoftmax(params)
	guess := 0
	for k := range logp {
		if logp[k] > logp[guess] {
			guess = k
		}
	}
	correct, loss := 0, 0.0
	for _, c := range y {
		if int(c) == guess {
			correct++
		}
		loss -= logp[c]
	}
	return correct, loss
}

// TestARegisteredModelTrainsInTheSimulator: the bias model, registered from
// this test file alone, trains through Spec and Experiment. Each of ten
// peers holds one digit and trains alone, so its training loss falls from
// ln 10 (x₀ = 0 is uniform) towards 0 as it learns to always answer its
// digit, and on the balanced test set it scores that digit's share.
func TestARegisteredModelTrainsInTheSimulator(t *testing.T) {
	s := smallSpec()
	s.Model, s.Algo, s.Partition, s.Peers = "bias", "local", "shards:1", 10
	res := runSpec(t, s, 0)
	if res.Params != 10 {
		t.Fatalf("%d parameters, want 10 (one bias per digit)", res.Params)
	}
	first, last := res.Records[0], res.Records[len(res.Records)-1]
	if math.Abs(first.TestLoss-math.Log(10)) > 1e-6 {
		t.Errorf("test loss at x₀ = 0: %g, want ln 10", first.TestLoss)
	}
	if !(last.TrainLoss < 0.5) {
		t.Errorf("training loss %g after %d rounds on one digit per peer, want < 0.5", last.TrainLoss, res.Rounds)
	}
	if !(res.FinalTestAccuracyMin > 0.05 && res.FinalTestAccuracyMax < 0.15) {
		t.Errorf("final accuracy %g to %g over peers: want each about its digit's share of the test set, 0.1",
			res.FinalTestAccuracyMin, res.FinalTestAccuracyMax)
	}

	s.Model = "bias:3"
	if _, err := s.Prepare(); err == nil || !strings.Contains(err.Error(), `model "bias:3": bias takes no sizes`) {
		t.Errorf("bias:3: error %v, want the builder's, naming the spec", err)
	}
	s.Model = "cnn"
	if _, err := s.Prepare(); err == nil || !strings.Contains(err.Error(), "bias") || !strings.Contains(err.Error(), "mlp:H1[,H2...]") {
		t.Errorf("unknown model: error %v, want it to list the registered models, bias among them", err)
	}
}
