//go:build cgo

package gpu

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/gradmesh/gradmesh/gpu/nvmltest"
)

// computeRig is a peer's compute inside a synctest bubble: a Monitor polling
// a mock machine, a Compute following it onto a fake GPU, and a stepper that
// calls LossGrad like the peer's compute goroutine, 10 ms apart.
type computeRig struct {
	t       *testing.T
	machine *nvmltest.Machine
	mon     *Monitor
	fake    *fakeGPU
	comp    *Compute
	start   time.Time
	logs    *syncBuffer
}

const stepGap = 10 * time.Millisecond // between the stepper's calls

func startCompute(t *testing.T, gpus int, cfg MonitorConfig, fake *fakeGPU) *computeRig {
	t.Helper()
	return startComputeStepping(t, gpus, cfg, fake, 0)
}

// startComputeStepping starts the stepper after firstStep, to shift its
// phase against the Monitor's polls.
func startComputeStepping(t *testing.T, gpus int, cfg MonitorConfig, fake *fakeGPU, firstStep time.Duration) *computeRig {
	t.Helper()
	m := nvmltest.New(gpus)
	mon, err := NewMonitor(open(t, m, procFS(map[uint32]string{4242: "blender", ownPID: "gradmesh"})), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Opening the backend puts gradmesh's own context on the GPU, as CUDA does.
	fake.onOpen = func(s Status) {
		m.Set(s.Device, func(g *nvmltest.GPU) { g.Compute = append(g.Compute, ownProcess) })
	}
	fake.onClose = func(s Status) {
		m.Set(s.Device, func(g *nvmltest.GPU) {
			g.Compute = slices.DeleteFunc(g.Compute, func(p nvml.ProcessInfo) bool { return p.Pid == ownPID })
		})
	}
	logs := &syncBuffer{}
	comp, err := NewCompute(ComputeConfig{ModelSpec: testSpec, Input: testInput, Classes: testClasses, OpenGPU: fake.open,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r := &computeRig{t: t, machine: m, mon: mon, fake: fake, comp: comp, start: time.Now(), logs: logs}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { mon.Run(ctx) })
	wg.Go(func() { comp.Follow(ctx, mon) })
	wg.Go(func() {
		params, x, y := stepInputs(rand.New(rand.NewPCG(1, 2)))
		grad := make([]float32, len(params))
		time.Sleep(firstStep)
		for ctx.Err() == nil {
			comp.LossGrad(params, grad, x, y)
			time.Sleep(stepGap)
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	synctest.Wait()
	return r
}

// until advances virtual time to at since the start.
func (r *computeRig) until(at time.Duration) ComputeStatus {
	r.t.Helper()
	time.Sleep(time.Until(r.start.Add(at)))
	synctest.Wait()
	return r.comp.Status()
}

func (r *computeRig) at(t time.Time) time.Duration { return t.Sub(r.start) }

// gpuStepsSince counts the GPU steps that started at or after from.
func (r *computeRig) gpuStepsSince(from time.Duration) int {
	_, _, steps, _ := r.fake.snapshot()
	n := 0
	for _, s := range steps {
		if r.at(s.start) >= from {
			n++
		}
	}
	return n
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the logged lines that contain all of words.
func (s *syncBuffer) lines(words ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line != "" && !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(line, w) }) {
			out = append(out, line)
		}
	}
	return out
}

func computeMonitorConfig() MonitorConfig {
	cfg := monitorConfig() // GPU 0, 30 s grace, 10% utilization
	return cfg
}

func TestComputeYieldsWithinTwoSecondsAndFreesTheGPU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startCompute(t, 1, computeMonitorConfig(), newFakeGPU())
		if s := r.until(29 * time.Second); s.State != StateYielded || s.GPUSteps != 0 || s.CPUSteps == 0 {
			t.Fatalf("during the grace window: %+v", s)
		}
		s := r.until(31 * time.Second)
		if s.State != StateContributing || s.GPUSteps == 0 || s.Backend != "fake GPU "+r.machine.UUID(0) ||
			s.Name != "NVIDIA H200 141GB HBM3e" || s.MemoryBudgetBytes == 0 {
			t.Fatalf("after the grace window: %+v", s)
		}
		if _, _, _, live := r.fake.snapshot(); live == 0 {
			t.Fatal("GPU steps allocated no memory")
		}
		// gradmesh's own context on the GPU must not read as the owner.
		if s := r.until(40 * time.Second); s.State != StateContributing || s.Yields != 0 {
			t.Fatalf("own process made it yield: %+v", s)
		}

		ownerAt := 40*time.Second + 123*time.Millisecond
		time.Sleep(time.Until(r.start.Add(ownerAt)))
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Compute = append(g.Compute, ownerProcess) })
		before := r.comp.Status()
		s = r.until(ownerAt + 2*time.Second)
		if s.State != StateYielded || s.Yields != 1 || s.Reason != "process 4242 (blender) is using the GPU" || s.Backend != "" {
			t.Fatalf("owner arrived: %+v", s)
		}
		_, lives, steps, live := r.fake.snapshot()
		if len(lives) != 1 || lives[0].closed.IsZero() || live != 0 {
			t.Fatalf("GPU not freed: lifetimes %+v, %d bytes live", lives, live)
		}
		freed := r.at(lives[0].closed) - ownerAt
		if freed <= 0 || freed > DefaultPollInterval+r.fake.stepTime {
			t.Errorf("GPU memory freed %v after the owner's process appeared, want within one poll and one step", freed)
		}
		last := steps[len(steps)-1]
		if last.end.After(lives[0].closed) {
			t.Errorf("a GPU step ended at %v, after the backend closed at %v", r.at(last.end), r.at(lives[0].closed))
		}
		if n := r.gpuStepsSince(r.at(lives[0].closed)); n != 0 {
			t.Errorf("%d GPU steps started after the yield", n)
		}
		if s.CPUSteps <= before.CPUSteps+100 {
			t.Errorf("the peer stopped stepping after the yield: %d CPU steps before, %d after", before.CPUSteps, s.CPUSteps)
		}
		if got := r.logs.lines("GPU handed back", "process 4242"); len(got) != 1 {
			t.Errorf("yield logged %d times: %q", len(got), got)
		}
	})
}

func TestComputeResumesOnTheGPUAfterTheGraceWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startCompute(t, 1, computeMonitorConfig(), newFakeGPU())
		r.until(31 * time.Second)
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Compute = append(g.Compute, ownerProcess) })
		r.until(40 * time.Second)
		leftAt := 40*time.Second + 250*time.Millisecond
		time.Sleep(time.Until(r.start.Add(leftAt)))
		r.machine.Set(0, func(g *nvmltest.GPU) {
			g.Compute = slices.DeleteFunc(g.Compute, func(p nvml.ProcessInfo) bool { return p.Pid == ownerProcess.Pid })
		})
		if s := r.until(leftAt + 30*time.Second); s.State != StateYielded || r.gpuStepsSince(40*time.Second) != 0 {
			t.Fatalf("before the grace window ended: %+v, %d GPU steps", s, r.gpuStepsSince(40*time.Second))
		}
		s := r.until(leftAt + 32*time.Second)
		if s.State != StateContributing || r.at(s.Since) != 70500*time.Millisecond || s.Yields != 1 {
			t.Fatalf("after the grace window: %+v since %v", s, r.at(s.Since))
		}
		attempts, lives, _, _ := r.fake.snapshot()
		if attempts != 2 || len(lives) != 2 || !lives[1].closed.IsZero() {
			t.Fatalf("want the GPU reopened once: %d opens, lifetimes %+v", attempts, lives)
		}
		if n := r.gpuStepsSince(70500 * time.Millisecond); n < 50 {
			t.Errorf("%d GPU steps since resuming, want steps back on the GPU", n)
		}
		if n := len(r.logs.lines("training on the GPU")); n != 2 {
			t.Errorf("%d 'training on the GPU' lines, want 2 (lent, then lent again)", n)
		}
	})
}

func TestComputeDoesNotFlapWithFlappingUtilization(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startCompute(t, 1, computeMonitorConfig(), newFakeGPU())
		// Someone runs a one-second job every ten seconds for five minutes.
		for at := 250 * time.Millisecond; at < 5*time.Minute; at += time.Second {
			busy := at%(10*time.Second) < time.Second
			r.machine.Set(0, func(g *nvmltest.GPU) { g.Util = map[bool]uint32{true: 90, false: 2}[busy] })
			r.until(at + time.Second)
		}
		if attempts, _, _, _ := r.fake.snapshot(); attempts != 0 {
			t.Fatalf("opened the GPU %d times while its owner came and went", attempts)
		}
		if s := r.until(5*time.Minute + 31*time.Second); s.State != StateContributing {
			t.Fatalf("quiet for the grace window: %+v", s)
		}
		// Lent: gradmesh's own load comes and goes between steps.
		for at := 6 * time.Minute; at < 8*time.Minute; at += 700 * time.Millisecond {
			r.machine.Set(0, func(g *nvmltest.GPU) {
				g.Util = map[bool]uint32{true: 100, false: 0}[at%(1400*time.Millisecond) == 0]
			})
			r.until(at)
		}
		s := r.comp.Status()
		attempts, _, _, _ := r.fake.snapshot()
		if s.State != StateContributing || s.Yields != 0 || attempts != 1 {
			t.Errorf("own load flapping: %+v after %d opens", s, attempts)
		}
		if lines := r.logs.lines(); len(lines) != 2 {
			t.Errorf("logged %d lines, want 2 (CPU, then GPU):\n%s", len(lines), strings.Join(lines, "\n"))
		}
	})
}

func TestComputeGPUDisappears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := computeMonitorConfig()
		cfg.Device = AnyGPU
		r := startCompute(t, 1, cfg, newFakeGPU())
		r.until(31 * time.Second)
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Lost = true })
		s := r.until(32 * time.Second)
		if s.State != StateNoGPU || s.Yields != 1 || s.Device != -1 || !strings.Contains(s.Reason, "GPU_IS_LOST") {
			t.Fatalf("GPU lost: %+v", s)
		}
		if _, lives, _, live := r.fake.snapshot(); live != 0 || lives[0].closed.IsZero() {
			t.Fatalf("lost GPU's backend not closed: %+v, %d bytes", lives, live)
		}
		cpu := s.CPUSteps
		if s := r.until(40 * time.Second); s.CPUSteps < cpu+100 || r.gpuStepsSince(32*time.Second) != 0 {
			t.Fatalf("after the loss: %+v", s)
		}
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Lost = false })
		if s := r.until(72 * time.Second); s.State != StateContributing {
			t.Fatalf("GPU back for a grace window: %+v", s)
		}
	})
}

func TestComputeStaysOnTheCPUAfterAGPUFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeGPU()
		fake.failAfter = 20
		r := startCompute(t, 1, computeMonitorConfig(), fake)
		s := r.until(35 * time.Second)
		if s.State != StateNoGPU || s.GPUSteps != 20 || !strings.Contains(s.Reason, "GPU step failed: fake: GPU lost") {
			t.Fatalf("after the failure: %+v", s)
		}
		if _, lives, _, live := r.fake.snapshot(); live != 0 || lives[0].closed.IsZero() {
			t.Fatalf("failed backend not closed: %+v, %d bytes", lives, live)
		}
		// The owner comes and goes; the Monitor lends the GPU again, but a
		// backend that failed once is not tried again.
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Compute = []nvml.ProcessInfo{ownerProcess} })
		r.until(40 * time.Second)
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Compute = nil })
		s = r.until(80 * time.Second)
		if r.mon.Status().State != StateContributing {
			t.Fatalf("the Monitor should lend the GPU again: %+v", r.mon.Status())
		}
		attempts, _, _, _ := r.fake.snapshot()
		if s.State != StateNoGPU || s.GPUSteps != 20 || attempts != 1 {
			t.Errorf("retried a failed backend: %+v, %d opens", s, attempts)
		}
		if got := r.logs.lines("level=WARN"); len(got) != 1 || !strings.Contains(got[0], "training on the CPU from now on") {
			t.Errorf("want one warning, got %q", got)
		}
	})
}

func TestComputeBackendThatCannotOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeGPU()
		fake.openErr = errors.New("cuda: libcublas.so.12 not found")
		r := startCompute(t, 1, computeMonitorConfig(), fake)
		s := r.until(2 * time.Minute)
		if s.State != StateNoGPU || s.Reason != "CUDA backend unavailable: cuda: libcublas.so.12 not found" || s.GPUSteps != 0 {
			t.Fatalf("%+v", s)
		}
		if attempts, _, _, _ := r.fake.snapshot(); attempts != 1 {
			t.Errorf("%d attempts to open, want 1", attempts)
		}
		if got := r.logs.lines("level=WARN"); len(got) != 1 || !strings.Contains(got[0], "CUDA backend unavailable") {
			t.Errorf("want one warning naming the cause, got %q", got)
		}
	})
}

func TestComputeOwnerReturnsWhileTheBackendOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeGPU()
		fake.openDelay = 3 * time.Second // cuBLAS loading on a slow disk
		r := startCompute(t, 1, computeMonitorConfig(), fake)
		r.until(31 * time.Second) // the open began at 30 s
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Compute = append(g.Compute, ownerProcess) })
		s := r.until(34 * time.Second)
		_, lives, steps, live := r.fake.snapshot()
		if s.State != StateYielded || len(steps) != 0 || live != 0 || len(lives) != 1 || lives[0].closed.IsZero() {
			t.Fatalf("%+v; lifetimes %+v, %d GPU steps, %d bytes", s, lives, len(steps), live)
		}
		if held := lives[0].closed.Sub(lives[0].opened); held != 0 {
			t.Errorf("held the GPU %v after opening it for an owner who was back", held)
		}
		if lent := r.logs.lines("training on the GPU"); len(lent) != 0 || s.Yields != 0 {
			t.Errorf("put the model on a GPU whose owner was back (%d yields): %q", s.Yields, lent)
		}
	})
}

func TestComputeMovesToAnotherIdleGPU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := computeMonitorConfig()
		cfg.Device = AnyGPU
		r := startCompute(t, 2, cfg, newFakeGPU())
		r.machine.Set(1, func(g *nvmltest.GPU) { g.UsedBytes = 8 << 30 }) // GPU 0 has more to lend
		if s := r.until(31 * time.Second); s.State != StateContributing || s.Device != 0 {
			t.Fatalf("first lend: %+v", s)
		}
		ownerAt := 40*time.Second + 250*time.Millisecond
		time.Sleep(time.Until(r.start.Add(ownerAt)))
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Compute = append(g.Compute, ownerProcess) })
		s := r.until(ownerAt + 2*time.Second)
		if s.State != StateContributing || s.Device != 1 || s.UUID != r.machine.UUID(1) || s.Yields != 1 {
			t.Fatalf("owner took GPU 0: %+v, want gradmesh on GPU 1 at once", s)
		}
		_, lives, steps, _ := r.fake.snapshot()
		if len(lives) != 2 || lives[0].uuid != r.machine.UUID(0) || lives[1].uuid != r.machine.UUID(1) ||
			lives[0].closed.IsZero() || lives[1].opened.Before(lives[0].closed) {
			t.Fatalf("want GPU 0 closed, then GPU 1 opened: %+v", lives)
		}
		if freed := r.at(lives[0].closed) - ownerAt; freed > DefaultPollInterval+r.fake.stepTime {
			t.Errorf("GPU 0 freed %v after its owner appeared", freed)
		}
		for _, st := range steps {
			if st.uuid == r.machine.UUID(0) && !st.start.Before(lives[0].closed) {
				t.Errorf("a step on GPU 0 at %v, after it was handed back", r.at(st.start))
			}
		}
		if r.gpuStepsSince(ownerAt+time.Second) < 50 {
			t.Errorf("steps did not continue on GPU 1")
		}
	})
}
