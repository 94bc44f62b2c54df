package gpu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gradmesh/gradmesh/training"
)

// StateDisabled: the peer was told not to use a GPU (--device cpu), so NVML
// is never read. Only a Compute's status or a shell reports it; the Monitor
// never does.
const StateDisabled State = "disabled"

// StatusSource is what a Compute follows: the Monitor, or a fake in tests.
type StatusSource interface {
	// Status is the latest status, with its current reason.
	Status() Status
	// Changes delivers a status whenever the state or the device changes.
	Changes() <-chan Status
}

// ComputeConfig says what a Compute trains and how it reaches the GPU.
type ComputeConfig struct {
	// ModelSpec, Input and Classes describe the model as training.ParseModel
	// reads them; the CPU model and every GPU model are built from them.
	ModelSpec string
	Input     training.Shape // one sample's shape
	Classes   int
	// OpenGPU opens a compute backend on the GPU a contributing status
	// names (by UUID: CUDA and NVML number GPUs differently). It is called
	// on the goroutine running Follow.
	OpenGPU func(Status) (training.Backend, error)
	Logger  *slog.Logger
}

// ComputeStatus is what a Compute reports about where the peer's steps run.
type ComputeStatus struct {
	// State is StateContributing only while steps run on the GPU. A GPU
	// whose backend failed reads StateNoGPU, whatever the Monitor says.
	State             State
	Reason            string
	Device            int // NVML index; -1 when none
	Name              string
	UUID              string
	MemoryTotalBytes  uint64
	MemoryBudgetBytes uint64
	Since             time.Time // when State last changed
	Backend           string    // the open backend's own description, while on the GPU
	GPUSteps          uint64    // steps computed on the GPU
	CPUSteps          uint64    // steps computed on the CPU
	Yields            uint64    // times the GPU was handed back and its memory freed
}

// Compute runs a peer's training steps on a lent GPU while the Monitor says
// StateContributing and on the CPU otherwise, so the peer keeps training,
// mixing and publishing through every change. Parameters live on the host
// and every step uploads them, so moving between devices loses nothing.
//
// On a yield it stops GPU steps at once (a step in flight finishes first:
// GPU steps take milliseconds) and closes the GPU model and backend, which
// frees all of gradmesh's GPU memory; it opens them again when the GPU is
// lent again. The first failure of the GPU backend (it cannot open, build
// the model, step or close) moves the peer to the CPU for good, with one log
// line: a backend that failed once would fail again, and retrying it every
// grace window would make the peer flap.
//
// LossGrad is called from one goroutine (the peer's compute goroutine),
// Follow from another; Status is safe from any goroutine.
type Compute struct {
	cfg ComputeConfig
	log *slog.Logger
	cpu training.Model

	// onGPU lets CPU steps skip gpuMu; it is true while a GPU model is
	// installed.
	onGPU atomic.Bool
	// gpuMu is held by every GPU step and by whatever removes the GPU
	// model, so a removal waits for a step in flight and no GPU step starts
	// after it. It is a channel rather than a sync.Mutex because waiting on
	// a channel counts as blocked under testing/synctest, so virtual time
	// moves on while a yield waits for a step.
	gpuMu      chanMutex
	backend    training.Backend
	model      training.Model
	lentUUID   string // the GPU backend is on
	lentDevice int

	gpuSteps, cpuSteps, yields atomic.Uint64

	mu      sync.Mutex
	status  ComputeStatus
	failure error  // the backend failure that ended GPU use, or nil
	source  Status // the latest status applied
	applied bool   // whether source holds one
	follow  StatusSource
}

// NewCompute builds the CPU model; the GPU is touched only once Follow
// hears that it is lent.
func NewCompute(cfg ComputeConfig) (*Compute, error) {
	cpu, err := training.ParseModel(cfg.ModelSpec, cfg.Input, cfg.Classes)
	if err != nil {
		return nil, err
	}
	if cfg.OpenGPU == nil {
		return nil, errors.New("gpu: NewCompute: ComputeConfig.OpenGPU is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Compute{cfg: cfg, log: cfg.Logger, cpu: cpu, gpuMu: make(chanMutex, 1), lentDevice: -1,
		status: ComputeStatus{State: StateNoGPU, Reason: "not following a GPU monitor yet", Device: -1}}, nil
}

// LossGrad computes one step: on the GPU while it is lent, else on the CPU.
// A GPU failure is computed again on the CPU, so the result is always
// correct.
func (c *Compute) LossGrad(params, grad, x []float32, y []int32) float64 {
	if c.onGPU.Load() {
		if loss, ok := c.gpuStep(params, grad, x, y); ok {
			c.gpuSteps.Add(1)
			return loss
		}
	}
	c.cpuSteps.Add(1)
	return c.cpu.LossGrad(params, grad, x, y)
}

// gpuStep runs the step on the GPU model if one is installed.
func (c *Compute) gpuStep(params, grad, x []float32, y []int32) (float64, bool) {
	c.gpuMu.lock()
	defer c.gpuMu.unlock()
	if c.model == nil {
		return 0, false
	}
	loss := c.model.LossGrad(params, grad, x, y)
	if err := training.ModelErr(c.model); err != nil {
		c.failLocked(fmt.Errorf("GPU step failed: %w", err))
		return 0, false
	}
	return loss, true
}

// Follow applies src's statuses until ctx ends, then frees the GPU. Call it
// once, on its own goroutine.
func (c *Compute) Follow(ctx context.Context, src StatusSource) {
	c.mu.Lock()
	c.follow = src
	c.mu.Unlock()
	if first := src.Status(); !first.Since.IsZero() {
		c.apply(first) // otherwise the first poll is still to come, through Changes
	}
	for {
		select {
		case <-ctx.Done():
			if err := c.closeGPU(); err != nil {
				c.log.Warn("freeing GPU memory on the way out", "err", err)
			}
			return
		case s := <-src.Changes():
			c.apply(s)
		}
	}
}

// apply acts on one status from the Monitor, and logs what changed.
func (c *Compute) apply(s Status) {
	c.mu.Lock()
	failed := c.failure != nil
	prev, seen := c.source, c.applied
	c.source, c.applied = s, true
	c.mu.Unlock()
	if failed {
		return
	}
	if seen && s.State != StateContributing && s.State == prev.State && s.Device == prev.Device && s.UUID == prev.UUID {
		// The status Follow read first may come again through Changes.
		c.setStatus(s, "")
		return
	}
	c.gpuMu.lock()
	lent := c.model != nil
	sameGPU := lent && c.lentUUID == s.UUID && c.lentDevice == s.Device
	c.gpuMu.unlock()

	if s.State == StateContributing && sameGPU {
		c.setStatus(s, c.backendName()) // a new memory budget or reason, same GPU
		return
	}
	if lent {
		why := s.Reason
		if s.State == StateContributing {
			why = fmt.Sprintf("moving to GPU %d", s.Device)
		}
		if err := c.closeGPU(); err != nil {
			c.fail(fmt.Errorf("freeing GPU memory: %w", err))
			return
		}
		c.yields.Add(1)
		if s.State != StateContributing {
			c.setStatus(s, "")
			c.log.Info("GPU handed back and its memory freed; training on the CPU", "gpu", string(s.State), "reason", why)
			return
		}
		c.log.Info("GPU handed back and its memory freed", "reason", why)
	}
	if s.State != StateContributing {
		c.setStatus(s, "")
		c.log.Info("training on the CPU", "gpu", string(s.State), "device", s.Device, "reason", s.Reason)
		return
	}
	c.lend(s)
}

// lend opens the GPU s names and installs a model on it, unless the GPU was
// taken back while it opened.
func (c *Compute) lend(s Status) {
	b, err := c.cfg.OpenGPU(s)
	if err != nil {
		c.fail(fmt.Errorf("CUDA backend unavailable: %w", err))
		return
	}
	m, err := b.NewModel(c.cfg.ModelSpec, c.cfg.Input, c.cfg.Classes)
	if err != nil {
		c.fail(errors.Join(fmt.Errorf("GPU backend %s cannot build %s: %w", b.Name(), c.cfg.ModelSpec, err), b.Close()))
		return
	}
	if latest := c.latest(); latest.State != StateContributing || latest.UUID != s.UUID {
		// The owner came back while the backend opened: give it back unused.
		if err := errors.Join(training.CloseModel(m), b.Close()); err != nil {
			c.fail(fmt.Errorf("freeing GPU memory: %w", err))
		}
		return
	}
	c.gpuMu.lock()
	c.backend, c.model, c.lentUUID, c.lentDevice = b, m, s.UUID, s.Device
	c.onGPU.Store(true)
	c.gpuMu.unlock()
	c.setStatus(s, b.Device())
	c.log.Info("training on the GPU", "device", s.Device, "name", s.Name, "uuid", s.UUID,
		"memory_budget", formatBytes(s.MemoryBudgetBytes), "backend", b.Device())
}

// latest is the newest status the Monitor has, or the one last applied when
// no source is followed.
func (c *Compute) latest() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.follow == nil {
		return c.source
	}
	return c.follow.Status()
}

// closeGPU stops GPU steps, waiting for one in flight, and frees the GPU
// model and backend.
func (c *Compute) closeGPU() error {
	c.gpuMu.lock()
	defer c.gpuMu.unlock()
	return c.closeGPULocked()
}

func (c *Compute) closeGPULocked() error {
	if c.model == nil {
		return nil
	}
	c.onGPU.Store(false)
	m, b := c.model, c.backend
	c.model, c.backend, c.lentUUID, c.lentDevice = nil, nil, "", -1
	return errors.Join(training.CloseModel(m), b.Close())
}

// fail ends GPU use for good.
func (c *Compute) fail(err error) {
	c.gpuMu.lock()
	defer c.gpuMu.unlock()
	c.failLocked(err)
}

func (c *Compute) failLocked(err error) {
	c.mu.Lock()
	if c.failure != nil {
		c.mu.Unlock()
		return
	}
	c.failure = err
	c.status = ComputeStatus{State: StateNoGPU, Reason: err.Error(), Device: -1, Since: time.Now()}
	c.mu.Unlock()
	c.onGPU.Store(false)
	// The backend already failed; freeing what it still can is all that is left.
	_ = c.closeGPULocked()
	c.log.Warn("training on the CPU from now on", "reason", err.Error())
}

func (c *Compute) failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failure != nil
}

func (c *Compute) backendName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status.Backend
}

// setStatus records s as what the peer now does.
func (c *Compute) setStatus(s Status, backend string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	since := c.status.Since
	if s.State != c.status.State || since.IsZero() {
		since = time.Now()
	}
	c.status = ComputeStatus{State: s.State, Reason: s.Reason, Device: s.Device, Name: s.Name, UUID: s.UUID,
		MemoryTotalBytes: s.MemoryTotalBytes, MemoryBudgetBytes: s.MemoryBudgetBytes, Since: since, Backend: backend}
}

// Status reports where steps run now; safe from any goroutine.
func (c *Compute) Status() ComputeStatus {
	c.mu.Lock()
	st := c.status
	if c.failure == nil && c.follow != nil {
		// The Monitor's reason changes without a state change (a new
		// process, the grace window counting down); show the current one.
		if now := c.follow.Status(); now.State == st.State && now.UUID == st.UUID {
			st.Reason = now.Reason
		}
	}
	c.mu.Unlock()
	st.GPUSteps, st.CPUSteps, st.Yields = c.gpuSteps.Load(), c.cpuSteps.Load(), c.yields.Load()
	return st
}

// chanMutex is a mutex made of a channel with room for one token.
type chanMutex chan struct{}

func (m chanMutex) lock()   { m <- struct{}{} }
func (m chanMutex) unlock() { <-m }
