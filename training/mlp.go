package training

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/blas/blas32"

	"github.com/gradmesh/gradmesh/nn"
)

// MLP is a fully connected network with ReLU hidden layers and a softmax
// cross-entropy output. With no hidden layer it is softmax regression.
//
// Parameter layout, layer by layer: the weights as an in×out row-major
// matrix, then the out biases. Forward and backward passes run on whole
// batches through float32 GEMM.
type MLP struct {
	sizes []int // input, hidden..., classes

	// Scratch, grown to the largest batch seen.
	batch  int
	acts   [][]float32 // acts[l]: batch×sizes[l] output of layer l (l ≥ 1); logits last
	deltas [][]float32 // deltas[l]: gradient of the loss w.r.t. the pre-activation of layer l
}

// NewMLP builds an MLP over the given layer sizes: input, hidden..., classes.
func NewMLP(sizes ...int) (*MLP, error) {
	if len(sizes) < 2 {
		return nil, fmt.Errorf("training: an MLP needs at least input and output sizes, got %v", sizes)
	}
	for i, s := range sizes {
		if s < 1 {
			return nil, fmt.Errorf("training: MLP layer %d has size %d, want ≥ 1", i, s)
		}
	}
	if sizes[len(sizes)-1] < 2 {
		return nil, fmt.Errorf("training: MLP output has %d classes, want ≥ 2", sizes[len(sizes)-1])
	}
	return &MLP{sizes: append([]int(nil), sizes...)}, nil
}

func init() {
	RegisterModel("softmax", "softmax", buildSoftmax)
	RegisterModel("mlp", "mlp:H1[,H2...]", buildMLP)
}

// buildSoftmax is the ModelBuilder of "softmax": softmax regression on the
// flattened sample.
func buildSoftmax(arg string, input Shape, classes int) (Model, error) {
	if arg != "" {
		return nil, errors.New("softmax takes no sizes")
	}
	return NewMLP(input.Size(), classes)
}

// buildMLP is the ModelBuilder of "mlp:H1[,H2...]": ReLU hidden layers of
// the given widths on the flattened sample.
func buildMLP(arg string, input Shape, classes int) (Model, error) {
	if arg == "" {
		return nil, errors.New("want mlp:H1[,H2...], e.g. mlp:128")
	}
	sizes := []int{input.Size()}
	for _, f := range strings.Split(arg, ",") {
		h, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || h < 1 {
			return nil, fmt.Errorf("hidden size %q is not a positive integer", f)
		}
		sizes = append(sizes, h)
	}
	return NewMLP(append(sizes, classes)...)
}

// Sizes returns the layer sizes, input first.
func (m *MLP) Sizes() []int { return append([]int(nil), m.sizes...) }

// Spec implements Model.
func (m *MLP) Spec() string {
	parts := make([]string, len(m.sizes))
	for i, s := range m.sizes {
		parts[i] = strconv.Itoa(s)
	}
	return "mlp:" + strings.Join(parts, "-")
}

// NumParams implements Model.
func (m *MLP) NumParams() int {
	n := 0
	for l := 1; l < len(m.sizes); l++ {
		n += m.sizes[l-1]*m.sizes[l] + m.sizes[l]
	}
	return n
}

// TrainFLOPs implements Model: forward 2·in·out per layer, backward the same
// for the weight gradient and again for the input gradient of every layer but
// the first.
func (m *MLP) TrainFLOPs() float64 {
	var f float64
	for l := 1; l < len(m.sizes); l++ {
		mac := float64(m.sizes[l-1] * m.sizes[l])
		f += 4 * mac
		if l > 1 {
			f += 2 * mac
		}
	}
	return f
}

// Clone implements Model.
func (m *MLP) Clone() Model { return &MLP{sizes: m.sizes} }

// Init implements Model with the usual fan-in scaling: weights uniform in
// ±sqrt(6/in) for ReLU layers (He) and ±sqrt(6/(in+out)) for the output layer
// (Glorot); biases zero.
func (m *MLP) Init(params []float32, rng *rand.Rand) {
	m.checkParams(params)
	off := 0
	for l := 1; l < len(m.sizes); l++ {
		in, out := m.sizes[l-1], m.sizes[l]
		bound := math.Sqrt(6 / float64(in))
		if l == len(m.sizes)-1 {
			bound = math.Sqrt(6 / float64(in+out))
		}
		w := params[off : off+in*out]
		for i := range w {
			w[i] = float32((2*rng.Float64() - 1) * bound)
		}
		clear(params[off+in*out : off+in*out+out])
		off += in*out + out
	}
}

func (m *MLP) checkParams(params []float32) {
	if len(params) != m.NumParams() {
		panic(fmt.Sprintf("training: %s has %d parameters, got a vector of %d", m.Spec(), m.NumParams(), len(params)))
	}
}

// layer returns the weight matrix and bias vector of layer l (1-based) as views into params.
func (m *MLP) layer(params []float32, l int) (blas32.General, []float32) {
	off := 0
	for k := 1; k < l; k++ {
		off += m.sizes[k-1]*m.sizes[k] + m.sizes[k]
	}
	in, out := m.sizes[l-1], m.sizes[l]
	w := blas32.General{Rows: in, Cols: out, Stride: out, Data: params[off : off+in*out]}
	return w, params[off+in*out : off+in*out+out]
}

func (m *MLP) grow(batch int) {
	if batch <= m.batch {
		return
	}
	m.batch = batch
	m.acts = make([][]float32, len(m.sizes))
	m.deltas = make([][]float32, len(m.sizes))
	for l := 1; l < len(m.sizes); l++ {
		m.acts[l] = make([]float32, batch*m.sizes[l])
		m.deltas[l] = make([]float32, batch*m.sizes[l])
	}
}

func matrix(data []float32, rows, cols int) blas32.General {
	return blas32.General{Rows: rows, Cols: cols, Stride: cols, Data: data[:rows*cols]}
}

// gemm computes C = alpha·op(A)·op(B) + beta·C as blas32.Gemm does, with
// the same arguments, but on the BLAS in use (nn.Gemm): under gonum the
// results are blas32.Gemm's to the bit.
func gemm(tA, tB bool, alpha float32, a, b blas32.General, beta float32, c blas32.General) {
	m, k := a.Rows, a.Cols
	if tA {
		m, k = a.Cols, a.Rows
	}
	n := b.Cols
	if tB {
		n = b.Rows
	}
	nn.Gemm(tA, tB, m, n, k, alpha, a.Data, a.Stride, b.Data, b.Stride, beta, c.Data, c.Stride)
}

// forward runs the batch through the network and returns the logits (batch×classes).
func (m *MLP) forward(params, x []float32, batch int) blas32.General {
	m.grow(batch)
	in := matrix(x, batch, m.sizes[0])
	last := len(m.sizes) - 1
	for l := 1; l <= last; l++ {
		w, b := m.layer(params, l)
		out := matrix(m.acts[l], batch, m.sizes[l])
		for r := 0; r < batch; r++ {
			copy(out.Data[r*out.Stride:r*out.Stride+out.Cols], b)
		}
		gemm(false, false, 1, in, w, 1, out)
		if l < last {
			relu(out.Data)
		}
		in = out
	}
	return in
}

// relu clamps v at zero in place. max compiles without a branch: a branch
// on the sign of values that are half negative mispredicts every other
// time, and cost four times as long. max(-0, 0) is +0; NaN stays NaN.
func relu(v []float32) {
	for i, x := range v {
		v[i] = max(x, 0)
	}
}

// maskInactive zeroes d where the unit was off: where its activation a is
// +0 (relu's output is +0, a positive value, or NaN, which passes). It
// works on the bits, without a branch, for relu's reason: -bits is
// negative exactly when bits > 0.
func maskInactive(d, a []float32) {
	d = d[:len(a)]
	for i, v := range a {
		on := uint32(-int32(math.Float32bits(v)) >> 31)
		d[i] = math.Float32frombits(math.Float32bits(d[i]) & on)
	}
}

// addRows adds every row of the rows×len(sum) matrix m into sum.
func addRows(sum, m []float32) {
	cols := len(sum)
	for r := 0; r+cols <= len(m); r += cols {
		row := m[r : r+cols]
		sum := sum[:len(row)]
		for j, d := range row {
			sum[j] += d
		}
	}
}

// LossGrad implements Model.
func (m *MLP) LossGrad(params, grad, x []float32, y []int32) float64 {
	m.checkParams(params)
	m.checkParams(grad)
	batch := len(y)
	if batch == 0 {
		clear(grad)
		return 0
	}
	m.checkBatch(x, batch)
	logits := m.forward(params, x, batch)
	last := len(m.sizes) - 1
	delta := matrix(m.deltas[last], batch, m.sizes[last])
	loss := softmaxCrossEntropy(logits, y, delta)

	scale := float32(1) / float32(batch)
	for i := range delta.Data {
		delta.Data[i] *= scale
	}
	for l := last; l >= 1; l-- {
		var in blas32.General
		if l == 1 {
			in = matrix(x, batch, m.sizes[0])
		} else {
			in = matrix(m.acts[l-1], batch, m.sizes[l-1])
		}
		gw, gb := m.layer(grad, l)
		gemm(true, false, 1, in, delta, 0, gw)
		clear(gb)
		addRows(gb, delta.Data[:batch*delta.Cols])
		if l == 1 {
			break
		}
		w, _ := m.layer(params, l)
		prev := matrix(m.deltas[l-1], batch, m.sizes[l-1])
		gemm(false, true, 1, delta, w, 0, prev)
		maskInactive(prev.Data, in.Data)
		delta = prev
	}
	return loss / float64(batch)
}

func (m *MLP) checkBatch(x []float32, batch int) {
	if len(x) != batch*m.sizes[0] {
		panic(fmt.Sprintf("training: %s: %d feature values for a batch of %d, want %d", m.Spec(), len(x), batch, batch*m.sizes[0]))
	}
}

// evalChunk bounds the scratch memory Evaluate needs on large test sets.
const evalChunk = 512

// Evaluate implements Model.
func (m *MLP) Evaluate(params, x []float32, y []int32) (int, float64) {
	m.checkParams(params)
	m.checkBatch(x, len(y))
	dim := m.sizes[0]
	correct, lossSum := 0, 0.0
	for start := 0; start < len(y); start += evalChunk {
		end := min(start+evalChunk, len(y))
		logits := m.forward(params, x[start*dim:end*dim], end-start)
		c, l := scoreLogits(logits, y[start:end])
		correct += c
		lossSum += l
	}
	return correct, lossSum
}
