package training

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// WithCPUFallback wraps a device backend so that its models move to the CPU
// for good the first time the device fails, instead of returning NaN: the
// failed call is computed again on the CPU from the same host slices, so the
// caller sees a correct result either way. onFail hears about the first
// failure of the backend only (one log line, not one per model); it may be
// nil.
func WithCPUFallback(device Backend, onFail func(error)) Backend {
	return &fallbackBackend{device: device, state: &fallbackState{onFail: onFail}}
}

type fallbackBackend struct {
	device Backend
	state  *fallbackState
}

// fallbackState is shared by a backend's models so that the first failure is
// reported once and Close reaches every model.
type fallbackState struct {
	once   sync.Once
	onFail func(error)
	closed atomic.Bool
}

var (
	errFallbackModelClosed   = errors.New("training: model closed")
	errFallbackBackendClosed = errors.New("training: backend closed")
)

func (s *fallbackState) report(err error) {
	s.once.Do(func() {
		if s.onFail != nil {
			s.onFail(err)
		}
	})
}

func (b *fallbackBackend) Name() string   { return b.device.Name() }
func (b *fallbackBackend) Device() string { return b.device.Device() }

// Close implements Backend: the device's models stop, and so do their CPU
// stand-ins, as the Backend contract says.
func (b *fallbackBackend) Close() error {
	b.state.closed.Store(true)
	return b.device.Close()
}

// NewModel builds the CPU model first, so a bad spec is an error rather than
// a fallback; a device that cannot build a valid spec is a fallback.
func (b *fallbackBackend) NewModel(spec string, input Shape, classes int) (Model, error) {
	cpu, err := CPUBackend{}.NewModel(spec, input, classes)
	if err != nil {
		return nil, err
	}
	if b.state.closed.Load() {
		return nil, errFallbackBackendClosed
	}
	dev, err := b.device.NewModel(spec, input, classes)
	if err != nil {
		b.state.report(fmt.Errorf("%s backend cannot build %s: %w", b.device.Name(), spec, err))
		return &fallbackModel{cpu: cpu, state: b.state}, nil
	}
	return &fallbackModel{device: dev, cpu: cpu, state: b.state}, nil
}

// fallbackModel computes on device until it fails, then on cpu.
type fallbackModel struct {
	device Model // nil once it has failed or closed
	cpu    Model
	state  *fallbackState
	closed bool
}

// stopped returns why m computes nothing, or nil.
func (m *fallbackModel) stopped() error {
	if m.closed {
		return errFallbackModelClosed
	}
	if m.state.closed.Load() {
		return errFallbackBackendClosed
	}
	return nil
}

// failed retires the device model after err.
func (m *fallbackModel) failed(err error) {
	m.state.report(err)
	_ = CloseModel(m.device) // the device already failed; its Close error adds nothing
	m.device = nil
}

func (m *fallbackModel) Spec() string                          { return m.cpu.Spec() }
func (m *fallbackModel) NumParams() int                        { return m.cpu.NumParams() }
func (m *fallbackModel) TrainFLOPs() float64                   { return m.cpu.TrainFLOPs() }
func (m *fallbackModel) Init(params []float32, rng *rand.Rand) { m.cpu.Init(params, rng) }

// LossGrad implements Model.
func (m *fallbackModel) LossGrad(params, grad, x []float32, y []int32) float64 {
	if m.stopped() != nil {
		clear(grad)
		return math.NaN()
	}
	if m.device != nil {
		loss := m.device.LossGrad(params, grad, x, y)
		err := ModelErr(m.device)
		if err == nil {
			return loss
		}
		m.failed(err)
	}
	return m.cpu.LossGrad(params, grad, x, y)
}

// Evaluate implements Model.
func (m *fallbackModel) Evaluate(params, x []float32, y []int32) (int, float64) {
	if m.stopped() != nil {
		return 0, math.NaN()
	}
	if m.device != nil {
		correct, loss := m.device.Evaluate(params, x, y)
		err := ModelErr(m.device)
		if err == nil {
			return correct, loss
		}
		m.failed(err)
	}
	return m.cpu.Evaluate(params, x, y)
}

// Clone implements Model.
func (m *fallbackModel) Clone() Model {
	c := &fallbackModel{cpu: m.cpu.Clone(), state: m.state}
	if m.device != nil && m.stopped() == nil {
		c.device = m.device.Clone()
	}
	return c
}

// Err implements DeviceModel: a device failure is not an error here, only a
// closed model or backend is.
func (m *fallbackModel) Err() error { return m.stopped() }

// Close implements DeviceModel.
func (m *fallbackModel) Close() error {
	m.closed = true
	if m.device == nil {
		return nil
	}
	err := CloseModel(m.device)
	m.device = nil
	return err
}
