package gpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gradmesh/gradmesh/training"
)

// fakeGPU stands in for the CUDA backend: its models compute on the CPU,
// take stepTime of (virtual, under synctest) time per step and record every
// call, so tests see when GPU steps ran and whether all "GPU memory" was
// freed. It can be made to fail to open, or to fail after some steps the way
// a lost GPU does.
type fakeGPU struct {
	openDelay time.Duration // how long opening the backend takes
	stepTime  time.Duration // how long a GPU step takes
	openErr   error         // returned by every open
	failAfter int           // GPU steps that succeed before the device fails; < 0: never
	// onOpen and onClose run when a backend opens and closes (to show
	// gradmesh's own process on the mock GPU, say).
	onOpen, onClose func(Status)

	mu        sync.Mutex
	attempts  int // calls to open
	lifetimes []lifetime
	steps     []gpuStep
	liveBytes int64 // allocated by models and not yet freed
	failed    bool
}

// lifetime is when one backend was open; closed is zero while it is.
type lifetime struct {
	uuid           string
	opened, closed time.Time
}

// gpuStep is one LossGrad on the fake GPU.
type gpuStep struct {
	uuid       string
	start, end time.Time
}

var errFakeGPULost = errors.New("fake: GPU lost")

func newFakeGPU() *fakeGPU {
	return &fakeGPU{stepTime: 5 * time.Millisecond, failAfter: -1}
}

func (f *fakeGPU) open(s Status) (training.Backend, error) {
	f.mu.Lock()
	f.attempts++
	err := f.openErr
	f.mu.Unlock()
	time.Sleep(f.openDelay)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	b := &fakeBackend{gpu: f, status: s, life: len(f.lifetimes)}
	f.lifetimes = append(f.lifetimes, lifetime{uuid: s.UUID, opened: time.Now()})
	f.mu.Unlock()
	if f.onOpen != nil {
		f.onOpen(s)
	}
	return b, nil
}

// snapshot copies what the fake recorded.
func (f *fakeGPU) snapshot() (attempts int, lives []lifetime, steps []gpuStep, live int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts, append([]lifetime(nil), f.lifetimes...), append([]gpuStep(nil), f.steps...), f.liveBytes
}

type fakeBackend struct {
	gpu    *fakeGPU
	status Status
	life   int // index in gpu.lifetimes

	closed bool
	models []*fakeModel
}

func (b *fakeBackend) Name() string   { return "fake-cuda" }
func (b *fakeBackend) Device() string { return "fake GPU " + b.status.UUID }

func (b *fakeBackend) NewModel(spec string, input training.Shape, classes int) (training.Model, error) {
	cpu, err := training.ParseModel(spec, input, classes)
	if err != nil {
		return nil, err
	}
	b.gpu.mu.Lock()
	defer b.gpu.mu.Unlock()
	if b.closed {
		return nil, errors.New("fake: backend closed")
	}
	m := &fakeModel{Model: cpu, b: b}
	b.models = append(b.models, m)
	return m, nil
}

func (b *fakeBackend) Close() error {
	b.gpu.mu.Lock()
	if b.closed {
		b.gpu.mu.Unlock()
		return nil
	}
	b.closed = true
	for _, m := range b.models {
		m.freeLocked()
	}
	b.gpu.lifetimes[b.life].closed = time.Now()
	b.gpu.mu.Unlock()
	if b.gpu.onClose != nil {
		b.gpu.onClose(b.status)
	}
	return nil
}

// fakeModel is a training.DeviceModel on the fake GPU.
type fakeModel struct {
	training.Model
	b     *fakeBackend
	bytes int64 // "device memory" held
	err   error
}

func (m *fakeModel) freeLocked() {
	m.b.gpu.liveBytes -= m.bytes
	m.bytes = 0
}

func (m *fakeModel) LossGrad(params, grad, x []float32, y []int32) float64 {
	f := m.b.gpu
	start := time.Now()
	f.mu.Lock()
	switch {
	case m.err != nil:
	case m.b.closed:
		m.err = errors.New("fake: backend closed")
	case f.failed || f.failAfter == 0:
		f.failed = true
		m.err = errFakeGPULost
	}
	if m.err != nil {
		f.mu.Unlock()
		clear(grad)
		return math.NaN()
	}
	if f.failAfter > 0 {
		f.failAfter--
	}
	if m.bytes == 0 {
		m.bytes = int64(4 * (2*len(params) + len(x) + len(y)))
		f.liveBytes += m.bytes
	}
	f.mu.Unlock()
	time.Sleep(f.stepTime)
	loss := m.Model.LossGrad(params, grad, x, y)
	f.mu.Lock()
	f.steps = append(f.steps, gpuStep{uuid: m.b.status.UUID, start: start, end: time.Now()})
	f.mu.Unlock()
	return loss
}

func (m *fakeModel) Evaluate(params, x []float32, y []int32) (int, float64) {
	if m.Err() != nil {
		return 0, math.NaN()
	}
	return m.Model.Evaluate(params, x, y)
}

func (m *fakeModel) Clone() training.Model {
	m.b.gpu.mu.Lock()
	defer m.b.gpu.mu.Unlock()
	c := &fakeModel{Model: m.Model.Clone(), b: m.b}
	m.b.models = append(m.b.models, c)
	return c
}

func (m *fakeModel) Err() error {
	m.b.gpu.mu.Lock()
	defer m.b.gpu.mu.Unlock()
	return m.err
}

func (m *fakeModel) Close() error {
	m.b.gpu.mu.Lock()
	defer m.b.gpu.mu.Unlock()
	if m.err == nil {
		m.err = errors.New("fake: model closed")
	}
	m.freeLocked()
	return nil
}

// stepInputs is a small batch for the fake's models: mlp:8 on 4 features,
// 3 classes.
func stepInputs(rng *rand.Rand) (params, x []float32, y []int32) {
	m, _ := training.ParseModel(testSpec, testInput, testClasses)
	params = make([]float32, m.NumParams())
	m.Init(params, rng)
	x = make([]float32, 8*testDim)
	for i := range x {
		x[i] = rng.Float32()
	}
	y = make([]int32, 8)
	for i := range y {
		y[i] = int32(rng.IntN(testClasses))
	}
	return params, x, y
}

const (
	testSpec    = "mlp:8"
	testDim     = 4
	testClasses = 3
)

// testInput is the shape of one test sample: testDim flat features.
var testInput = training.Flat(testDim)
