//go:build cgo

package main

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/gradmesh/gradmesh/gpu"
	"github.com/gradmesh/gradmesh/gpu/nvmltest"
	"github.com/gradmesh/gradmesh/training"
)

// cpuAsGPU is a stand-in CUDA backend: its models compute on the CPU and
// count their steps, so a test sees that training went through it.
type cpuAsGPU struct {
	uuid   string
	opens  atomic.Int64
	steps  atomic.Int64
	closed atomic.Int64
}

func (f *cpuAsGPU) open(s gpu.Status) (training.Backend, error) {
	f.opens.Add(1)
	if s.UUID != f.uuid {
		return nil, errors.New("fake: asked for GPU " + s.UUID + ", have " + f.uuid)
	}
	return fakeBackend{f}, nil
}

type fakeBackend struct{ f *cpuAsGPU }

func (b fakeBackend) Name() string   { return "fake-cuda" }
func (b fakeBackend) Device() string { return "fake H200 " + b.f.uuid }
func (b fakeBackend) Close() error   { b.f.closed.Add(1); return nil }
func (b fakeBackend) NewModel(spec string, input training.Shape, classes int) (training.Model, error) {
	m, err := training.ParseModel(spec, input, classes)
	return countingModel{m, &b.f.steps}, err
}

type countingModel struct {
	training.Model
	steps *atomic.Int64
}

func (m countingModel) LossGrad(params, grad, x []float32, y []int32) float64 {
	m.steps.Add(1)
	return m.Model.LossGrad(params, grad, x, y)
}

func (m countingModel) Clone() training.Model { return countingModel{m.Model.Clone(), m.steps} }

// withFakeGPUs makes gradmesh see machine m and open fake backends on it.
func withFakeGPUs(t *testing.T, m *nvmltest.Machine) *cpuAsGPU {
	withMachine(t, m)
	f := &cpuAsGPU{uuid: m.UUID(0)}
	withCUDA(t, f.open)
	return f
}

var ownerOnGPU = nvml.ProcessInfo{Pid: 4242, UsedGpuMemory: 2 << 30}

func TestSimDeviceAutoBorrowsAnIdleGPU(t *testing.T) {
	f := withFakeGPUs(t, nvmltest.New(1))
	code, out, errOut := gradmesh(t, "sim", "--peers", "4", "--epochs", "2", "--quiet")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "\ndevice: fake-cuda on fake H200 "+f.uuid+"\n") {
		t.Errorf("summary does not name the GPU:\n%s", out)
	}
	if f.opens.Load() != 1 || f.steps.Load() == 0 || f.closed.Load() != 1 {
		t.Errorf("%d opens, %d steps on the GPU, %d closes; want the steps on the GPU and the backend closed", f.opens.Load(), f.steps.Load(), f.closed.Load())
	}
}

func TestSimDeviceAutoLeavesABusyGPU(t *testing.T) {
	m := nvmltest.New(1)
	m.Set(0, func(g *nvmltest.GPU) { g.Compute = []nvml.ProcessInfo{ownerOnGPU} })
	f := withFakeGPUs(t, m)
	code, out, errOut := gradmesh(t, "sim", "--peers", "4", "--epochs", "2", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `reason="GPU busy: process 4242 is using the GPU"`) {
		t.Errorf("stderr %q: want one line saying the GPU is busy", errOut)
	}
	if f.opens.Load() != 0 || !strings.Contains(out, "device: cpu (GPU busy: process 4242 is using the GPU)") {
		t.Errorf("%d opens; summary:\n%s", f.opens.Load(), out)
	}
	// Asked for explicitly, the GPU is used even while its owner is busy.
	code, out, errOut = gradmesh(t, "sim", "--device", "gpu", "--peers", "4", "--epochs", "2", "--quiet")
	if code != 0 || errOut != "" || !strings.Contains(out, "device: fake-cuda on") || f.steps.Load() == 0 {
		t.Errorf("--device gpu: exit %d, stderr %q, %d GPU steps:\n%s", code, errOut, f.steps.Load(), out)
	}
}

func TestSimDeviceAutoWithoutTheCUDABackend(t *testing.T) {
	withMachine(t, nvmltest.New(1))
	withCUDA(t, func(gpu.Status) (training.Backend, error) {
		return nil, errors.New("cuda: cuBLAS (libcublas.so.12) not found")
	})
	code, out, errOut := gradmesh(t, "sim", "--peers", "4", "--epochs", "2", "--quiet")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != 0 || len(lines) != 1 || !strings.Contains(lines[0], `reason="CUDA backend unavailable: cuda: cuBLAS (libcublas.so.12) not found"`) {
		t.Errorf("exit %d, stderr %q: want one line naming what is missing", code, errOut)
	}
	if !strings.Contains(out, "device: cpu (CUDA backend unavailable:") {
		t.Errorf("summary:\n%s", out)
	}
	code, _, errOut = gradmesh(t, "sim", "--device", "gpu", "--peers", "4", "--epochs", "2", "--quiet")
	if code != 1 || !strings.Contains(errOut, "gradmesh sim: --device gpu: CUDA backend unavailable: cuda: cuBLAS") {
		t.Errorf("--device gpu: exit %d, stderr %q", code, errOut)
	}
}

func TestDeviceDriverWithoutGPUs(t *testing.T) {
	m := nvmltest.New(1)
	m.Plug(0)
	withFakeGPUs(t, m)
	code, out, errOut := gradmesh(t, "sim", "--peers", "4", "--epochs", "2", "--quiet")
	if code != 0 || !strings.Contains(errOut, `reason="no GPU found"`) || !strings.Contains(out, "device: cpu (no GPU found)") {
		t.Errorf("sim: exit %d, stderr %q:\n%s", code, errOut, out)
	}
	code, _, errOut = gradmesh(t, "join", "--device", "gpu", "--no-mdns", "--key", t.TempDir()+"/peer.key")
	if code != 1 || errOut != "gradmesh join: --device gpu: no GPU found\n" {
		t.Errorf("join --device gpu: exit %d, stderr %q", code, errOut)
	}
}

func TestJoinDeviceAutoLendsAnIdleGPU(t *testing.T) {
	m := nvmltest.New(2)
	m.Set(0, func(g *nvmltest.GPU) { g.Graphics = []nvml.ProcessInfo{ownerOnGPU} })
	f := withFakeGPUs(t, m)
	f.uuid = m.UUID(1)
	code, log, st := joinUntil(t, "training on the GPU", "--gpu-grace", "0s", "--gpu-mem-cap", "4GiB")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	g := st.GPU
	if g == nil || g.State != "idle-contributing" || g.Device != 1 || g.UUID != f.uuid || g.Name != "NVIDIA H200 141GB HBM3e" ||
		g.MemoryBudgetBytes != 4<<30 || g.Backend != "fake H200 "+f.uuid || g.Since == nil {
		t.Fatalf("/status gpu section: %+v", g)
	}
	if f.opens.Load() != 1 || f.closed.Load() != 1 {
		t.Errorf("%d opens, %d closes: the GPU must be freed when the peer stops", f.opens.Load(), f.closed.Load())
	}
}

func TestJoinDeviceGPURequiresTheCUDABackend(t *testing.T) {
	withMachine(t, nvmltest.New(1))
	withCUDA(t, func(gpu.Status) (training.Backend, error) { return nil, errors.New("cuda: libcuda.so.1 not found") })
	code, _, errOut := gradmesh(t, "join", "--device", "gpu", "--no-mdns", "--key", t.TempDir()+"/peer.key")
	if code != 1 || errOut != "gradmesh join: --device gpu: CUDA backend unavailable: cuda: libcuda.so.1 not found\n" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
