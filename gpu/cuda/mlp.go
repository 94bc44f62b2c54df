package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gradmesh/gradmesh/training"
)

// evalRows bounds the rows one Evaluate pass puts on the device, and so the
// activation memory a large test set needs.
const evalRows = 1024

// maxElements keeps every buffer's element count inside a C int, the type of
// the kernels' size parameters.
const maxElements = math.MaxInt32

// mlp is training.MLP on a GPU, with the same parameter layout: per layer the
// in×out row-major weights, then the out biases. Parameters and gradients
// stay host slices; each call uploads the parameters (the peer mixed them on
// the CPU since the last round) and downloads the gradient. Like any Model,
// one mlp serves one goroutine at a time; clones share the backend.
type mlp struct {
	b     *Backend
	ref   *training.MLP // the CPU twin: spec, layout, Init and FLOPs
	sizes []int
	off   []int // off[l]: index of layer l's weights in the vector (l ≥ 1)
	n     int   // parameters

	// Device buffers, grown to the largest batch seen and reused; nil until
	// the first call, and again after Close. Touched only inside b.run.
	buf *buffers
	err error // the failure that stopped the model, final

	rowLoss    []float64 // host copies of the per-row results
	rowCorrect []int32
}

// buffers are one model's device memory for batches of up to rows samples.
type buffers struct {
	rows       int
	params     devicePtr         // n floats
	grad       devicePtr         // n floats
	x          devicePtr         // rows × sizes[0]
	labels     devicePtr         // rows int32
	acts       []devicePtr       // acts[l]: rows × sizes[l] outputs of layer l ≥ 1, logits last
	deltas     []devicePtr       // deltas[l]: loss gradient w.r.t. layer l's pre-activation
	rowLoss    devicePtr         // rows float64
	rowCorrect devicePtr         // rows int32
	sizes      map[devicePtr]int // every allocation above and its bytes, for freeing
}

func newMLP(b *Backend, ref *training.MLP) *mlp {
	sizes := ref.Sizes()
	off := make([]int, len(sizes))
	n := 0
	for l := 1; l < len(sizes); l++ {
		off[l] = n
		n += sizes[l-1]*sizes[l] + sizes[l]
	}
	return &mlp{b: b, ref: ref, sizes: sizes, off: off, n: n}
}

func (m *mlp) Spec() string                          { return m.ref.Spec() }
func (m *mlp) NumParams() int                        { return m.n }
func (m *mlp) TrainFLOPs() float64                   { return m.ref.TrainFLOPs() }
func (m *mlp) Init(params []float32, rng *rand.Rand) { m.ref.Init(params, rng) }

// Clone implements training.Model: the clone shares the backend and has its
// own device buffers.
func (m *mlp) Clone() training.Model { return newMLP(m.b, m.ref) }

// Err implements training.DeviceModel.
func (m *mlp) Err() error { return m.err }

// Close implements training.DeviceModel.
func (m *mlp) Close() error {
	if errors.Is(m.err, errModelClosed) {
		return nil
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	m.err = errModelClosed
	delete(m.b.models, m)
	if m.buf == nil || m.b.closed {
		return nil // nothing allocated, or the backend's Close freed it
	}
	leave, err := m.b.dev.enter()
	if err != nil {
		return err
	}
	defer leave()
	return m.freeBuffers(m.b.dev)
}

// checkShapes panics on slices of the wrong length, as the CPU model does:
// they are bugs in the caller, not data. Labels are checked too, because on
// the device an out-of-range label would read memory the row does not own.
func (m *mlp) checkShapes(params, x []float32, y []int32) {
	if len(params) != m.n {
		panic(fmt.Sprintf("cuda: %s has %d parameters, got a vector of %d", m.Spec(), m.n, len(params)))
	}
	if len(x) != len(y)*m.sizes[0] {
		panic(fmt.Sprintf("cuda: %s: %d feature values for a batch of %d, want %d", m.Spec(), len(x), len(y), len(y)*m.sizes[0]))
	}
	classes := m.sizes[len(m.sizes)-1]
	for i, label := range y {
		if label < 0 || int(label) >= classes {
			panic(fmt.Sprintf("cuda: %s: label %d of sample %d is outside 0..%d", m.Spec(), label, i, classes-1))
		}
	}
}

// do runs fn on the device unless the model has stopped; a failure stops it
// for good.
func (m *mlp) do(fn func(dev device) error) error {
	if m.err != nil {
		return m.err
	}
	if err := m.b.run(fn); err != nil {
		m.err = err
		return err
	}
	return nil
}

// LossGrad implements training.Model.
func (m *mlp) LossGrad(params, grad, x []float32, y []int32) float64 {
	m.checkShapes(params, x, y)
	if len(grad) != m.n {
		panic(fmt.Sprintf("cuda: %s has %d parameters, got a gradient vector of %d", m.Spec(), m.n, len(grad)))
	}
	var loss float64
	err := m.do(func(dev device) error {
		if len(y) == 0 {
			return nil
		}
		var err error
		loss, err = m.lossGrad(dev, params, grad, x, y)
		return err
	})
	if err != nil {
		clear(grad)
		return math.NaN()
	}
	if len(y) == 0 {
		clear(grad)
	}
	return loss
}

// Evaluate implements training.Model.
func (m *mlp) Evaluate(params, x []float32, y []int32) (int, float64) {
	m.checkShapes(params, x, y)
	var correct int
	var lossSum float64
	err := m.do(func(dev device) error {
		if len(y) == 0 {
			return nil
		}
		var err error
		correct, lossSum, err = m.evaluate(dev, params, x, y)
		return err
	})
	if err != nil {
		return 0, math.NaN()
	}
	return correct, lossSum
}

func (m *mlp) lossGrad(dev device, params, grad, x []float32, y []int32) (float64, error) {
	rows := len(y)
	if err := m.ensure(dev, rows); err != nil {
		return 0, err
	}
	bf := m.buf
	if err := m.upload(dev, params, x, y); err != nil {
		return 0, err
	}
	if err := m.forward(dev, rows); err != nil {
		return 0, err
	}
	last := len(m.sizes) - 1
	classes := m.sizes[last]
	// The CPU scales the softmax gradient by the same float32 1/batch.
	scale := float32(1) / float32(rows)
	if err := dev.launch(kernelSoftmaxXent, rows, ptrArg(bf.acts[last]), ptrArg(bf.labels), intArg(rows), intArg(classes),
		floatArg(scale), ptrArg(bf.deltas[last]), ptrArg(bf.rowLoss)); err != nil {
		return 0, err
	}
	for l := last; l >= 1; l-- {
		in, out := m.sizes[l-1], m.sizes[l]
		input := bf.x
		if l > 1 {
			input = bf.acts[l-1]
		}
		delta := bf.deltas[l]
		// dW = inputᵀ·delta (in×out); db = column sums of delta.
		if err := gemmRowMajor(dev, true, false, in, out, rows, 1, input, in, delta, out, 0, bf.grad.offset(m.off[l]), out); err != nil {
			return 0, err
		}
		if err := dev.launch(kernelColSum, out, ptrArg(delta), intArg(rows), intArg(out), ptrArg(bf.grad.offset(m.off[l]+in*out))); err != nil {
			return 0, err
		}
		if l == 1 {
			break
		}
		// The previous layer's delta: delta·Wᵀ, zero where its ReLU was off.
		if err := gemmRowMajor(dev, false, true, rows, in, out, 1, delta, out, bf.params.offset(m.off[l]), out, 0, bf.deltas[l-1], in); err != nil {
			return 0, err
		}
		if err := dev.launch(kernelReluBackward, rows*in, ptrArg(bf.deltas[l-1]), ptrArg(bf.acts[l-1]), intArg(rows*in)); err != nil {
			return 0, err
		}
	}
	if err := dev.download(bytesOf(grad), bf.grad); err != nil {
		return 0, err
	}
	rowLoss := m.rowLoss[:rows]
	if err := dev.download(bytesOf(rowLoss), bf.rowLoss); err != nil {
		return 0, err
	}
	var sum float64
	for _, l := range rowLoss {
		sum += l
	}
	return sum / float64(rows), nil
}

func (m *mlp) evaluate(dev device, params, x []float32, y []int32) (int, float64, error) {
	if err := m.ensure(dev, min(len(y), evalRows)); err != nil {
		return 0, 0, err
	}
	bf := m.buf
	if err := dev.upload(bf.params, bytesOf(params)); err != nil {
		return 0, 0, err
	}
	dim, last := m.sizes[0], len(m.sizes)-1
	correct, lossSum := 0, 0.0
	for start := 0; start < len(y); start += evalRows {
		end := min(start+evalRows, len(y))
		rows := end - start
		if err := m.upload(dev, nil, x[start*dim:end*dim], y[start:end]); err != nil {
			return 0, 0, err
		}
		if err := m.forward(dev, rows); err != nil {
			return 0, 0, err
		}
		if err := dev.launch(kernelXentEval, rows, ptrArg(bf.acts[last]), ptrArg(bf.labels), intArg(rows), intArg(m.sizes[last]),
			ptrArg(bf.rowLoss), ptrArg(bf.rowCorrect)); err != nil {
			return 0, 0, err
		}
		rowLoss, rowCorrect := m.rowLoss[:rows], m.rowCorrect[:rows]
		if err := dev.download(bytesOf(rowLoss), bf.rowLoss); err != nil {
			return 0, 0, err
		}
		if err := dev.download(bytesOf(rowCorrect), bf.rowCorrect); err != nil {
			return 0, 0, err
		}
		for i := range rows {
			lossSum += rowLoss[i]
			correct += int(rowCorrect[i])
		}
	}
	return correct, lossSum, nil
}

// upload copies the parameters (unless nil), features and labels of a batch.
func (m *mlp) upload(dev device, params, x []float32, y []int32) error {
	bf := m.buf
	if params != nil {
		if err := dev.upload(bf.params, bytesOf(params)); err != nil {
			return err
		}
	}
	if err := dev.upload(bf.x, bytesOf(x)); err != nil {
		return err
	}
	return dev.upload(bf.labels, bytesOf(y))
}

// forward computes every layer's output for the rows of the uploaded batch:
// the product with the weights, then bias and (hidden layers) ReLU.
func (m *mlp) forward(dev device, rows int) error {
	bf := m.buf
	last := len(m.sizes) - 1
	input := bf.x
	for l := 1; l <= last; l++ {
		in, out := m.sizes[l-1], m.sizes[l]
		w := bf.params.offset(m.off[l])
		if err := gemmRowMajor(dev, false, false, rows, out, in, 1, input, in, w, out, 0, bf.acts[l], out); err != nil {
			return err
		}
		if err := dev.launch(kernelBiasAct, rows*out, ptrArg(bf.acts[l]), ptrArg(w.offset(in*out)), intArg(rows), intArg(out), boolArg(l < last)); err != nil {
			return err
		}
		input = bf.acts[l]
	}
	return nil
}

// ensure makes the device buffers hold batches of rows samples, allocating
// only when rows exceeds every batch before.
func (m *mlp) ensure(dev device, rows int) error {
	if m.buf != nil && m.buf.rows >= rows {
		return nil
	}
	widest := 0
	for _, s := range m.sizes {
		widest = max(widest, s)
	}
	if int64(rows)*int64(widest) > maxElements || m.n > maxElements {
		return fmt.Errorf("cuda: %s: a batch of %d rows needs buffers over %d elements", m.Spec(), rows, maxElements)
	}
	if err := m.freeBuffers(dev); err != nil {
		return err
	}
	bf := &buffers{rows: rows, sizes: map[devicePtr]int{}}
	m.buf = bf
	m.b.models[m] = struct{}{}
	alloc := func(n int) (devicePtr, error) {
		p, err := m.b.alloc(dev, n)
		if err == nil {
			bf.sizes[p] = n
		}
		return p, err
	}
	var err error
	take := func(p *devicePtr, n int) {
		if err == nil {
			*p, err = alloc(n)
		}
	}
	take(&bf.params, 4*m.n)
	take(&bf.grad, 4*m.n)
	take(&bf.x, 4*rows*m.sizes[0])
	take(&bf.labels, 4*rows)
	take(&bf.rowLoss, 8*rows)
	take(&bf.rowCorrect, 4*rows)
	bf.acts = make([]devicePtr, len(m.sizes))
	bf.deltas = make([]devicePtr, len(m.sizes))
	for l := 1; l < len(m.sizes); l++ {
		take(&bf.acts[l], 4*rows*m.sizes[l])
		take(&bf.deltas[l], 4*rows*m.sizes[l])
	}
	if err != nil {
		return errors.Join(err, m.freeBuffers(dev))
	}
	m.rowLoss = make([]float64, rows)
	m.rowCorrect = make([]int32, rows)
	return nil
}

// freeBuffers returns the model's device memory, all of it even when some
// frees fail.
func (m *mlp) freeBuffers(dev device) error {
	if m.buf == nil {
		return nil
	}
	var errs []error
	for p, n := range m.buf.sizes {
		errs = append(errs, m.b.free(dev, p, n))
	}
	m.buf = nil
	return errors.Join(errs...)
}
