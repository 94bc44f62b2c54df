package training

import (
	"fmt"
	"math/rand/v2"

	"github.com/gradmesh/gradmesh/nn"
)

// Network is a Model made of nn layers: a body that maps each sample to
// logits, and a softmax cross-entropy head. A classifier's body gives one row
// of logits per sample, scored against the sample's label. A language
// model's body gives a row per position: its samples are windows of T+1
// token ids, the body reads the first T, and row t is scored against token
// t+1 of the same window, so the labels are not used.
//
// The parameter vector is the body's tensors back to back, in the order,
// with the names and shapes, of the PyTorch module it mirrors (Params).
type Network struct {
	spec      string
	body      nn.Layer[float32]
	classes   int
	positions int // rows of logits per sample
	nextToken bool

	targets []int32
	dlogits []float32
}

// NewClassifier makes a Network scoring one row of classes logits per
// sample against its label.
func NewClassifier(spec string, body nn.Layer[float32], classes int) (*Network, error) {
	if body.OutSize() != classes {
		return nil, fmt.Errorf("training: %s gives %d values per sample for %d classes", spec, body.OutSize(), classes)
	}
	return &Network{spec: spec, body: body, classes: classes, positions: 1}, nil
}

// NewLanguageModel makes a Network over windows of context+1 token ids whose
// body gives vocab logits at each of the first context positions.
func NewLanguageModel(spec string, body nn.Layer[float32], vocab, context int) (*Network, error) {
	if body.InSize() != context+1 || body.OutSize() != context*vocab {
		return nil, fmt.Errorf("training: %s reads %d values and gives %d per sample, want windows of %d tokens and %d×%d logits",
			spec, body.InSize(), body.OutSize(), context+1, context, vocab)
	}
	return &Network{spec: spec, body: body, classes: vocab, positions: context, nextToken: true}, nil
}

// Spec implements Model.
func (m *Network) Spec() string { return m.spec }

// Params lists the parameter tensors, with PyTorch's names and shapes, in
// the order the parameter vector holds them.
func (m *Network) Params() []nn.Param { return m.body.Params() }

// NumParams implements Model.
func (m *Network) NumParams() int { return nn.NumParams(m.body.Params()) }

// Init implements Model: each tensor draws from its own Init, in order.
func (m *Network) Init(params []float32, rng *rand.Rand) {
	m.checkParams(params)
	nn.InitParams(m.body.Params(), params, rng)
}

// TrainFLOPs implements Model: the body's forward work per sample, three
// times over for the forward pass and the two products of the backward pass.
func (m *Network) TrainFLOPs() float64 { return 3 * m.body.FLOPs() }

// Clone implements Model.
func (m *Network) Clone() Model {
	return &Network{spec: m.spec, body: m.body.Clone(), classes: m.classes, positions: m.positions, nextToken: m.nextToken}
}

func (m *Network) checkParams(params []float32) {
	if len(params) != m.NumParams() {
		panic(fmt.Sprintf("training: %s has %d parameters, got a vector of %d", m.spec, m.NumParams(), len(params)))
	}
}

func (m *Network) checkBatch(x []float32, n int) {
	if len(x) != n*m.body.InSize() {
		panic(fmt.Sprintf("training: %s: %d input values for a batch of %d, want %d", m.spec, len(x), n, n*m.body.InSize()))
	}
}

// rowTargets returns the target of every row of logits of n samples.
func (m *Network) rowTargets(x []float32, y []int32, n int) []int32 {
	if !m.nextToken {
		return y
	}
	window := m.positions + 1
	m.targets = nn.Grow(m.targets, n*m.positions)
	for s := 0; s < n; s++ {
		for t := 0; t < m.positions; t++ {
			m.targets[s*m.positions+t] = int32(x[s*window+t+1])
		}
	}
	return m.targets
}

// LossGrad implements Model: the mean cross-entropy over every row of
// logits (every predicted token of a language model).
func (m *Network) LossGrad(params, grad, x []float32, y []int32) float64 {
	m.checkParams(params)
	m.checkParams(grad)
	n := len(y)
	if n == 0 {
		clear(grad)
		return 0
	}
	m.checkBatch(x, n)
	logits := m.body.Forward(params, x, n)
	rows := n * m.positions
	m.dlogits = nn.Grow(m.dlogits, rows*m.classes)
	loss, _ := nn.SoftmaxCrossEntropy(logits, m.classes, m.rowTargets(x, y, n), m.dlogits, 1/float32(rows))
	m.body.Backward(params, grad, m.dlogits, n, false)
	return loss / float64(rows)
}

// evalWork bounds the forward work, in FLOPs, of one chunk of an
// evaluation. A layer's activations grow with its work, so this also bounds
// the scratch each of the simulator's model copies keeps: a ResNet-20 scores
// a few dozen images at a time, LeNet-5 and a small GPT hundreds of samples.
const evalWork = 1 << 31

// Evaluate implements Model. A sample's loss is the mean over its rows (for
// a language model, its tokens: the sum is in nats per token, times the
// samples), and it counts as correct when its last row's largest logit is on
// the target: the label, or the token that follows the whole window.
func (m *Network) Evaluate(params, x []float32, y []int32) (int, float64) {
	m.checkParams(params)
	m.checkBatch(x, len(y))
	chunk := max(1, min(evalChunk, int(evalWork/max(1, m.body.FLOPs()))))
	in := m.body.InSize()
	correct, lossSum := 0, 0.0
	for start := 0; start < len(y); start += chunk {
		n := min(chunk, len(y)-start)
		xs := x[start*in : (start+n)*in]
		logits := m.body.Forward(params, xs, n)
		targets := m.rowTargets(xs, y[start:start+n], n)
		loss, _ := nn.SoftmaxCrossEntropy(logits, m.classes, targets, nil, 1)
		lossSum += loss / float64(m.positions)
		for s := 0; s < n; s++ {
			last := (s+1)*m.positions - 1
			if argmax(logits[last*m.classes:(last+1)*m.classes]) == int(targets[last]) {
				correct++
			}
		}
	}
	return correct, lossSum
}

func argmax(v []float32) int {
	best := 0
	for j, x := range v {
		if x > v[best] {
			best = j
		}
	}
	return best
}
