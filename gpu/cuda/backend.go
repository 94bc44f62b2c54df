package cuda

import (
	"errors"
	"fmt"
	"sync"

	"github.com/gradmesh/gradmesh/training"
)

// Backend is a training.Backend on one GPU. It serialises all device work
// behind one lock: the GPU runs one stream in order anyway, and the lock
// makes Close safe against models still in use on other goroutines.
type Backend struct {
	desc string

	mu     sync.Mutex
	dev    device
	closed bool
	models map[*mlp]struct{} // every model with device memory, freed on Close
	live   int64             // bytes allocated through this backend and not yet freed
}

func newBackend(dev device, desc string) *Backend {
	return &Backend{dev: dev, desc: desc, models: map[*mlp]struct{}{}}
}

// Name implements training.Backend.
func (b *Backend) Name() string { return "cuda" }

// Device implements training.Backend.
func (b *Backend) Device() string { return b.desc }

// NewModel implements training.Backend. Device memory is allocated on the
// model's first LossGrad or Evaluate, sized by that batch.
func (b *Backend) NewModel(spec string, input training.Shape, classes int) (training.Model, error) {
	cpu, err := training.ParseModel(spec, input, classes)
	if err != nil {
		return nil, err
	}
	ref, ok := cpu.(*training.MLP)
	if !ok {
		return nil, fmt.Errorf("cuda: model %s is not an MLP; the CUDA backend runs MLPs only", cpu.Spec())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errBackendClosed
	}
	return newMLP(b, ref), nil
}

// Close implements training.Backend: it frees every model's device memory,
// then the kernels, the cuBLAS handle and the context.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	leave, err := b.dev.enter()
	if err != nil {
		return fmt.Errorf("cuda: close: %w", err)
	}
	defer leave()
	var errs []error
	for m := range b.models {
		errs = append(errs, m.freeBuffers(b.dev))
	}
	clear(b.models)
	errs = append(errs, b.dev.close())
	return errors.Join(errs...)
}

// run calls fn with the device bound to the calling goroutine, under the
// backend's lock.
func (b *Backend) run(fn func(dev device) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errBackendClosed
	}
	leave, err := b.dev.enter()
	if err != nil {
		return err
	}
	defer leave()
	return fn(b.dev)
}

// alloc and free keep b.live, so tests can prove Close returns everything.
func (b *Backend) alloc(dev device, n int) (devicePtr, error) {
	p, err := dev.alloc(n)
	if err == nil {
		b.live += int64(n)
	}
	return p, err
}

func (b *Backend) free(dev device, p devicePtr, n int) error {
	b.live -= int64(n)
	return dev.free(p)
}

// liveBytes reports the device memory its models hold.
func (b *Backend) liveBytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live
}
