//go:build cgo

package gpu_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gradmesh/gradmesh/gpu"
	"github.com/gradmesh/gradmesh/gpu/cuda"
	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/training/modeltest"
)

// The tests in this file need an NVIDIA GPU with its driver and cuBLAS, and
// skip, saying what is missing, without them. On a GPU machine without Go:
//
//	go test -c -o bin/gpu-lend.test ./gpu/        (here, with cgo)
//	bin/gpu-lend.test -test.run GPU -test.bench GPU -test.v

// TestMain lets the test binary play the GPU's owner: with
// GRADMESH_GPU_OWNER set it opens a CUDA context on that GPU UUID, says
// "ready" and holds the context until its stdin closes.
func TestMain(m *testing.M) {
	if uuid := os.Getenv("GRADMESH_GPU_OWNER"); uuid != "" {
		b, err := cuda.OpenUUID(uuid)
		if err != nil {
			fmt.Println("owner:", err)
			os.Exit(1)
		}
		model, _ := b.NewModel("mlp:256", training.Flat(784), 10) // a step allocates memory, as real work would
		params := make([]float32, model.NumParams())
		x, y := modeltest.RandomBatch(rand.New(rand.NewPCG(1, 1)), 64, 784, 10)
		model.LossGrad(params, make([]float32, len(params)), x, y)
		fmt.Println("ready")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// realGPU opens NVML and returns GPU 0 if it is free of other processes and
// the CUDA backend opens on it; otherwise the test skips.
func realGPU(t testing.TB) (*gpu.NVML, gpu.GPU) {
	t.Helper()
	session, err := gpu.OpenSystem()
	if err != nil {
		t.Skipf("no NVML: %v", err)
	}
	t.Cleanup(func() { session.Close() })
	g := session.ReadGPU(0)
	if g.Err != "" {
		t.Skipf("no GPU 0: %s", g.Err)
	}
	if len(g.Processes) > 0 {
		t.Skipf("GPU 0 is in use (%d processes); this test needs it to itself", len(g.Processes))
	}
	b, err := cuda.OpenUUID(g.UUID)
	if err != nil {
		t.Skipf("CUDA backend unavailable: %v", err)
	}
	t.Logf("GPU 0: %s", b.Device())
	_ = b.Close()
	return session, g
}

func openByUUID(s gpu.Status) (training.Backend, error) { return cuda.OpenUUID(s.UUID) }

// listed reports whether pid has a context on GPU 0 as NVML sees it now.
func listed(session *gpu.NVML, pid int) bool {
	g := session.ReadGPU(0)
	return slices.ContainsFunc(g.Processes, func(p gpu.Process) bool { return int(p.PID) == pid })
}

// waitUntil polls cond every 2 ms until it holds, and returns when it first
// did; real hardware runs on real time.
func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Now()
}

// TestGPULendAndYieldOnARealGPU lends a real GPU to a Compute training
// 784-1024-1024-10 at batch 512, then starts an owner process with its own
// CUDA context, again and again, and measures from the moment NVML first
// lists the owner to the moment gradmesh's context is gone from the GPU (all
// its memory freed). It must stay under 2 s; the poll interval bounds it.
func TestGPULendAndYieldOnARealGPU(t *testing.T) {
	session, g0 := realGPU(t)
	const grace = 2 * time.Second
	mon, err := gpu.NewMonitor(session, gpu.MonitorConfig{Idle: gpu.IdleConfig{UtilThresholdPercent: 10, Grace: grace}, Device: 0})
	if err != nil {
		t.Fatal(err)
	}
	comp, err := gpu.NewCompute(gpu.ComputeConfig{ModelSpec: "mlp:1024,1024", Input: training.Flat(784), Classes: 10, OpenGPU: openByUUID,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { _ = mon.Run(ctx) })
	wg.Go(func() { comp.Follow(ctx, mon) })
	wg.Go(func() {
		m, _ := training.ParseModel("mlp:1024,1024", training.Flat(784), 10)
		params := make([]float32, m.NumParams())
		rng := rand.New(rand.NewPCG(1, 2))
		m.Init(params, rng)
		x, y := modeltest.RandomBatch(rng, 512, 784, 10)
		grad := make([]float32, len(params))
		for ctx.Err() == nil {
			comp.LossGrad(params, grad, x, y)
		}
	})

	self := os.Getpid()
	var lags []time.Duration
	for cycle := range 5 {
		lentAt := waitUntil(t, "the GPU to be lent", grace+10*time.Second, func() bool {
			return comp.Status().State == gpu.StateContributing && listed(session, self)
		})
		steps := comp.Status().GPUSteps
		waitUntil(t, "GPU steps", 10*time.Second, func() bool { return comp.Status().GPUSteps > steps+20 })
		busy := time.Since(lentAt)

		owner := exec.Command(os.Args[0], "-test.run", "^$")
		owner.Env = append(os.Environ(), "GRADMESH_GPU_OWNER="+g0.UUID)
		stdin, _ := owner.StdinPipe()
		out, _ := owner.StdoutPipe()
		if err := owner.Start(); err != nil {
			t.Fatal(err)
		}
		appeared := waitUntil(t, "the owner's context on the GPU", 30*time.Second, func() bool { return listed(session, owner.Process.Pid) })
		gone := waitUntil(t, "gradmesh's context to leave the GPU", 5*time.Second, func() bool { return !listed(session, self) })
		lag := gone.Sub(appeared)
		lags = append(lags, lag)
		st := comp.Status()
		if ready, _ := bufio.NewReader(out).ReadString('\n'); strings.TrimSpace(ready) != "ready" {
			t.Fatalf("owner process: %q", ready)
		}
		after := st.GPUSteps
		time.Sleep(500 * time.Millisecond) // the owner works; gradmesh must not touch the GPU meanwhile
		if s := comp.Status(); s.GPUSteps != after || s.State != gpu.StateYielded || listed(session, self) {
			t.Errorf("cycle %d: while the owner works: %d GPU steps since the yield, state %s", cycle, s.GPUSteps-after, s.State)
		}
		t.Logf("cycle %d: lent %v with %d GPU steps; owner listed → gradmesh gone in %v (%s)", cycle, busy.Round(time.Millisecond),
			st.GPUSteps-steps, lag.Round(time.Millisecond), st.Reason)
		if lag > 2*time.Second {
			t.Errorf("cycle %d: gradmesh left the GPU %v after the owner appeared, want ≤ 2 s", cycle, lag)
		}
		stdin.Close()
		if err := owner.Wait(); err != nil {
			t.Fatalf("owner: %v", err)
		}
		left := waitUntil(t, "the owner to leave", 10*time.Second, func() bool { return !listed(session, owner.Process.Pid) })
		back := waitUntil(t, "the GPU to be lent again", grace+10*time.Second, func() bool { return comp.Status().State == gpu.StateContributing })
		if back.Sub(left) < grace-gpu.DefaultPollInterval {
			t.Errorf("cycle %d: lent again %v after the owner left, before the %v grace window", cycle, back.Sub(left), grace)
		}
	}
	slices.Sort(lags)
	var sum time.Duration
	for _, l := range lags {
		sum += l
	}
	t.Logf("owner listed → gradmesh's GPU memory freed over %d cycles: min %v, mean %v, max %v", len(lags),
		lags[0].Round(time.Millisecond), (sum / time.Duration(len(lags))).Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// lentSource is a StatusSource that lends one GPU for good.
type lentSource struct{ s gpu.Status }

func (l lentSource) Status() gpu.Status         { return l.s }
func (l lentSource) Changes() <-chan gpu.Status { return nil }

// BenchmarkGPUStep compares a CUDA training step called directly on the
// model with the same step through a Compute that has the GPU lent.
func BenchmarkGPUStep(b *testing.B) {
	_, g0 := realGPU(b)
	for _, c := range []struct {
		spec  string
		batch int
	}{{"mlp:256,128", 64}, {"mlp:256,128", 512}, {"mlp:1024,1024", 512}} {
		rng := rand.New(rand.NewPCG(1, 2))
		name := fmt.Sprintf("%s/batch=%d", c.spec, c.batch)
		params, x, y := func() ([]float32, []float32, []int32) {
			m, _ := training.ParseModel(c.spec, training.Flat(784), 10)
			p := make([]float32, m.NumParams())
			m.Init(p, rng)
			x, y := modeltest.RandomBatch(rng, c.batch, 784, 10)
			return p, x, y
		}()
		grad := make([]float32, len(params))
		b.Run(name+"/direct", func(b *testing.B) {
			be, err := cuda.OpenUUID(g0.UUID)
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			m, _ := be.NewModel(c.spec, training.Flat(784), 10)
			for b.Loop() {
				m.LossGrad(params, grad, x, y)
			}
			if err := training.ModelErr(m); err != nil {
				b.Fatal(err)
			}
		})
		b.Run(name+"/compute", func(b *testing.B) {
			comp, err := gpu.NewCompute(gpu.ComputeConfig{ModelSpec: c.spec, Input: training.Flat(784), Classes: 10, OpenGPU: openByUUID,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				comp.Follow(ctx, lentSource{gpu.Status{State: gpu.StateContributing, Device: 0, UUID: g0.UUID, Since: time.Now()}})
				close(done)
			}()
			defer func() { cancel(); <-done }()
			for comp.Status().State != gpu.StateContributing {
				time.Sleep(time.Millisecond)
			}
			for b.Loop() {
				comp.LossGrad(params, grad, x, y)
			}
			if s := comp.Status(); s.CPUSteps != 0 {
				b.Fatalf("%d steps ran on the CPU: %s", s.CPUSteps, s.Reason)
			}
		})
	}
}
