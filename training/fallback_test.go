package training_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/training/modeltest"
)

// flakyDevice is a device backend whose models compute correctly (on the CPU,
// standing in for a GPU) until the backend's shared call budget runs out;
// then every model fails the way a lost GPU does.
type flakyDevice struct {
	calls     atomic.Int64 // successful calls left before the device fails
	buildErr  error
	closeHits atomic.Int64
}

func newFlakyDevice(calls int64) *flakyDevice {
	d := &flakyDevice{}
	d.calls.Store(calls)
	return d
}

var errDeviceLost = errors.New("device lost")

func (d *flakyDevice) Name() string   { return "flaky" }
func (d *flakyDevice) Device() string { return "test device" }
func (d *flakyDevice) Close() error   { return nil }
func (d *flakyDevice) NewModel(spec string, input training.Shape, classes int) (training.Model, error) {
	if d.buildErr != nil {
		return nil, d.buildErr
	}
	m, err := training.ParseModel(spec, input, classes)
	if err != nil {
		return nil, err
	}
	return &flakyModel{Model: m, dev: d}, nil
}

type flakyModel struct {
	training.Model
	dev *flakyDevice
	err error
}

func (m *flakyModel) step() bool {
	if m.err == nil && m.dev.calls.Add(-1) < 0 {
		m.err = errDeviceLost
	}
	return m.err == nil
}

func (m *flakyModel) LossGrad(params, grad, x []float32, y []int32) float64 {
	if !m.step() {
		clear(grad)
		return math.NaN()
	}
	return m.Model.LossGrad(params, grad, x, y)
}

func (m *flakyModel) Evaluate(params, x []float32, y []int32) (int, float64) {
	if !m.step() {
		return 0, math.NaN()
	}
	return m.Model.Evaluate(params, x, y)
}

func (m *flakyModel) Clone() training.Model { return &flakyModel{Model: m.Model.Clone(), dev: m.dev} }
func (m *flakyModel) Err() error            { return m.err }
func (m *flakyModel) Close() error          { m.dev.closeHits.Add(1); return nil }

func TestWithCPUFallbackMovesToTheCPUOnFirstFailure(t *testing.T) {
	dev := newFlakyDevice(3)
	var reports []error
	b := training.WithCPUFallback(dev, func(err error) { reports = append(reports, err) })
	if b.Name() != "flaky" || b.Device() != "test device" {
		t.Fatalf("wrapper renames the backend: %q, %q", b.Name(), b.Device())
	}
	m, err := b.NewModel("mlp:8", training.Flat(6), 3)
	if err != nil {
		t.Fatal(err)
	}
	clone := m.Clone()
	ref, _ := training.ParseModel("mlp:8", training.Flat(6), 3)
	params := make([]float32, ref.NumParams())
	ref.Init(params, rand.New(rand.NewPCG(1, 1)))
	rng := rand.New(rand.NewPCG(2, 2))

	// Calls 1-3 run on the device, the rest fail there: every result must
	// still be the CPU's, including the call during which the device failed.
	for call := range 6 {
		x, y := modeltest.RandomBatch(rng, 5, 6, 3)
		model := m
		if call%2 == 1 {
			model = clone
		}
		if lossErr, gradErr := modeltest.CompareLossGrad(model, ref, params, x, y); lossErr != 0 || gradErr != 0 {
			t.Fatalf("call %d: loss off by %g, gradient by %g", call, lossErr, gradErr)
		}
	}
	x, y := modeltest.RandomBatch(rng, 9, 6, 3)
	gotC, gotL := m.Evaluate(params, x, y)
	wantC, wantL := ref.Evaluate(params, x, y)
	if gotC != wantC || gotL != wantL {
		t.Fatalf("Evaluate after the failure = %d, %g; CPU %d, %g", gotC, gotL, wantC, wantL)
	}
	if len(reports) != 1 || !errors.Is(reports[0], errDeviceLost) {
		t.Fatalf("onFail heard %v; want the device failure exactly once for the backend", reports)
	}
	if dev.closeHits.Load() != 2 {
		t.Fatalf("failed device models closed %d times, want once each for the model and its clone", dev.closeHits.Load())
	}
	if training.ModelErr(m) != nil {
		t.Fatalf("a fallback model reports %v; it never fails", training.ModelErr(m))
	}
}

func TestWithCPUFallbackBuildErrors(t *testing.T) {
	dev := newFlakyDevice(100)
	dev.buildErr = errors.New("no kernels for this shape")
	var reports []error
	b := training.WithCPUFallback(dev, func(err error) { reports = append(reports, err) })
	if _, err := b.NewModel("mlp:zero", training.Flat(6), 3); err == nil || len(reports) != 0 {
		t.Fatalf("bad spec: err %v, reports %v; want an error and no fallback", err, reports)
	}
	m, err := b.NewModel("mlp:8", training.Flat(6), 3)
	if err != nil || len(reports) != 1 {
		t.Fatalf("device cannot build: err %v, reports %v; want a CPU model and one report", err, reports)
	}
	ref, _ := training.ParseModel("mlp:8", training.Flat(6), 3)
	params := make([]float32, ref.NumParams())
	ref.Init(params, rand.New(rand.NewPCG(3, 3)))
	x, y := modeltest.RandomBatch(rand.New(rand.NewPCG(4, 4)), 5, 6, 3)
	if lossErr, gradErr := modeltest.CompareLossGrad(m, ref, params, x, y); lossErr != 0 || gradErr != 0 {
		t.Fatalf("CPU model off by %g, %g", lossErr, gradErr)
	}
}

func TestWithCPUFallbackKeepsTheModelContract(t *testing.T) {
	modeltest.Run(t, func() (training.Backend, error) {
		return training.WithCPUFallback(newFlakyDevice(25), nil), nil
	}, modeltest.Config{})
}
