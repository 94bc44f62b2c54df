package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/gpu"
	"github.com/gradmesh/gradmesh/gpu/cuda"
	"github.com/gradmesh/gradmesh/training"
)

// openCUDA opens the compute backend on the GPU a status names; tests
// replace it with a fake.
var openCUDA = func(s gpu.Status) (training.Backend, error) {
	if s.UUID == "" {
		return nil, fmt.Errorf("GPU %d has no readable UUID to find it by in CUDA", s.Device)
	}
	return cuda.OpenUUID(s.UUID)
}

// deviceFlags are --device and --gpu-index (join and sim) and the owner's
// terms for lending a GPU (join only).
type deviceFlags struct {
	mode     string
	index    int
	idleUtil uint
	grace    time.Duration
	hours    string
	maxTemp  uint
	maxPower float64
	memCap   string
	tolerate string
}

func addDeviceFlags(fs *flag.FlagSet, f *deviceFlags) {
	fs.StringVar(&f.mode, "device", "auto", "where local steps run: auto (a GPU while it is idle and the CUDA backend loads, else the CPU), gpu (require one), cpu (never touch the GPU)")
	fs.IntVar(&f.index, "gpu-index", gpu.AnyGPU, "NVML index of the GPU to use, as nvidia-smi numbers them (-1: any idle one)")
}

// addLendingFlags registers the terms on which a live peer borrows its
// owner's GPU; defaults come from gpu.DefaultIdleConfig.
func addLendingFlags(fs *flag.FlagSet, f *deviceFlags) {
	d := gpu.DefaultIdleConfig()
	fs.UintVar(&f.idleUtil, "gpu-idle-util", uint(d.UtilThresholdPercent), "a GPU at or above this utilization (percent) is in use by its owner")
	fs.DurationVar(&f.grace, "gpu-grace", d.Grace, "how long a GPU must stay free before gradmesh borrows it, and again after each yield")
	fs.StringVar(&f.hours, "gpu-hours", "", "daily hours gradmesh may use the GPU, local time: HH:MM-HH:MM[,HH:MM-HH:MM...] (default any time)")
	fs.UintVar(&f.maxTemp, "gpu-max-temp", 0, "yield the GPU above this temperature, °C (0: no cap)")
	fs.Float64Var(&f.maxPower, "gpu-max-power", 0, "yield the GPU above this power draw, watts (0: no cap)")
	fs.StringVar(&f.memCap, "gpu-mem-cap", "", "most GPU memory gradmesh may hold, e.g. 8GiB or 512MiB (default: whatever others leave free)")
	fs.StringVar(&f.tolerate, "gpu-tolerate", "", "comma-separated process names whose context on the GPU does not mean its owner is back, e.g. Xorg,gnome-shell")
}

// check validates what both commands share.
func (f deviceFlags) check() error {
	switch f.mode {
	case "auto", "gpu", "cpu":
	default:
		return fmt.Errorf("--device %q: want auto, gpu or cpu", f.mode)
	}
	if f.index < gpu.AnyGPU {
		return fmt.Errorf("--gpu-index %d: want an NVML index (0, 1, ...) or -1 for any", f.index)
	}
	return nil
}

// idleConfig turns the lending flags into the owner's terms.
func (f deviceFlags) idleConfig() (gpu.IdleConfig, error) {
	if f.idleUtil < 1 || f.idleUtil > 100 {
		return gpu.IdleConfig{}, fmt.Errorf("--gpu-idle-util %d: want a percentage from 1 to 100", f.idleUtil)
	}
	if f.grace < 0 {
		return gpu.IdleConfig{}, fmt.Errorf("--gpu-grace %v: must not be negative", f.grace)
	}
	if f.maxTemp > 1000 {
		return gpu.IdleConfig{}, fmt.Errorf("--gpu-max-temp %d: want degrees Celsius, e.g. 80", f.maxTemp)
	}
	cfg := gpu.IdleConfig{UtilThresholdPercent: uint32(f.idleUtil), Grace: f.grace,
		MaxTemperatureC: uint32(f.maxTemp), MaxPowerW: f.maxPower}
	if f.hours != "" {
		for _, part := range strings.Split(f.hours, ",") {
			w, err := gpu.ParseTimeWindow(part)
			if err != nil {
				return gpu.IdleConfig{}, fmt.Errorf("--gpu-hours: %v", err)
			}
			cfg.Windows = append(cfg.Windows, w)
		}
	}
	if f.memCap != "" {
		n, err := parseBytes(f.memCap)
		if err != nil {
			return gpu.IdleConfig{}, fmt.Errorf("--gpu-mem-cap: %v", err)
		}
		cfg.MemoryCapBytes = n
	}
	if f.tolerate != "" {
		for _, name := range strings.Split(f.tolerate, ",") {
			if name = strings.TrimSpace(name); name == "" {
				return gpu.IdleConfig{}, fmt.Errorf("--gpu-tolerate %q: an empty process name", f.tolerate)
			}
			cfg.TolerateProcesses = append(cfg.TolerateProcesses, name)
		}
	}
	if err := cfg.Validate(); err != nil {
		return gpu.IdleConfig{}, err
	}
	return cfg, nil
}

// byteUnits are the suffixes parseBytes reads, longest first.
var byteUnits = []struct {
	suffix string
	scale  uint64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}

// parseBytes reads a size such as "8GiB", "512MiB", "2GB" or "1048576".
func parseBytes(s string) (uint64, error) {
	num, scale := strings.TrimSpace(s), uint64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, scale = strings.TrimSpace(n), u.scale
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || !(v > 0) || v*float64(scale) >= 1<<63 {
		return 0, fmt.Errorf("%q is not a size: want a positive number of bytes with an optional unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s)
	}
	return uint64(v * float64(scale)), nil
}

// openGPUSession opens NVML and checks that it shows a GPU (the one
// --gpu-index names, if any); without one it returns why, and no session.
func openGPUSession(f deviceFlags) (session *gpu.NVML, reason string, err error) {
	session, err = openNVML()
	if err != nil {
		return nil, err.Error(), nil // ErrNoDriver's text is "no NVIDIA driver found[: why]"
	}
	n, err := session.DeviceCount()
	switch {
	case err != nil:
		reason = err.Error()
	case n == 0:
		reason = "no GPU found"
	case f.index >= n:
		reason = fmt.Sprintf("no GPU %d: the driver shows %d (--gpu-index counts from 0)", f.index, n)
	default:
		return session, "", nil
	}
	return nil, reason, session.Close()
}

// peerDevice is where a live peer's local steps run.
type peerDevice struct {
	lossGrad func(params, grad, x []float32, y []int32) float64
	status   func() gossip.GPUStatus
	stop     func() // frees the GPU and stops watching it
}

// LossGrad computes a step wherever the device runs it now, so that a
// training.Stepper can step with the device as with a model.
func (d *peerDevice) LossGrad(params, grad, x []float32, y []int32) float64 {
	return d.lossGrad(params, grad, x, y)
}

// cpuDevice trains on cpu and reports a fixed GPU status with its step count.
func cpuDevice(cpu training.Model, st gossip.GPUStatus) *peerDevice {
	var steps atomic.Uint64
	return &peerDevice{
		lossGrad: func(params, grad, x []float32, y []int32) float64 {
			steps.Add(1)
			return cpu.LossGrad(params, grad, x, y)
		},
		status: func() gossip.GPUStatus {
			s := st
			s.CPUSteps = steps.Load()
			return s
		},
		stop: func() {},
	}
}

// startPeerDevice decides where a live peer trains. With --device cpu it
// never touches NVML. Otherwise, with a GPU present, a Monitor watches it
// and a gpu.Compute moves steps onto it while it is idle; without one the
// peer trains on the CPU after one log line saying why, or, with --device
// gpu, fails.
func startPeerDevice(f deviceFlags, idle gpu.IdleConfig, spec string, input training.Shape, classes int, cpu training.Model, log *slog.Logger) (*peerDevice, error) {
	if f.mode == "cpu" {
		return cpuDevice(cpu, gossip.GPUStatus{State: string(gpu.StateDisabled), Reason: "--device cpu", Device: -1}), nil
	}
	session, reason, err := openGPUSession(f)
	if err != nil {
		return nil, err
	}
	if session == nil {
		if f.mode == "gpu" {
			return nil, fmt.Errorf("--device gpu: %s", reason)
		}
		log.Info("training on the CPU", "reason", reason)
		return cpuDevice(cpu, gossip.GPUStatus{State: string(gpu.StateNoGPU), Reason: reason, Device: -1}), nil
	}
	if f.mode == "gpu" {
		if err := probeCUDA(session, f.index); err != nil {
			return nil, errors.Join(fmt.Errorf("--device gpu: CUDA backend unavailable: %w", err), session.Close())
		}
	}
	mon, err := gpu.NewMonitor(session, gpu.MonitorConfig{Idle: idle, Device: f.index})
	if err != nil {
		return nil, errors.Join(err, session.Close())
	}
	comp, err := gpu.NewCompute(gpu.ComputeConfig{ModelSpec: spec, Input: input, Classes: classes, OpenGPU: openCUDA, Logger: log})
	if err != nil {
		return nil, errors.Join(err, session.Close())
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = mon.Run(ctx) })
	wg.Go(func() { comp.Follow(ctx, mon) })
	stop := func() {
		cancel()
		wg.Wait()
		if err := session.Close(); err != nil {
			log.Warn("closing NVML", "err", err)
		}
	}
	return &peerDevice{lossGrad: comp.LossGrad, status: func() gossip.GPUStatus { return gpuStatusOf(comp.Status()) }, stop: stop}, nil
}

// probeCUDA opens and closes the backend on the GPU --device gpu will use,
// so that a peer that requires a GPU fails at start, not at its first lend.
func probeCUDA(session *gpu.NVML, index int) error {
	if index == gpu.AnyGPU {
		index = 0
	}
	g := session.ReadGPU(index)
	if g.Err != "" {
		return fmt.Errorf("GPU %d unreadable: %s", index, g.Err)
	}
	b, err := openCUDA(gpu.Status{Device: index, UUID: g.UUID, Name: g.Name})
	if err != nil {
		return err
	}
	return b.Close()
}

// gpuStatusOf is a Compute's status as /status shows it.
func gpuStatusOf(s gpu.ComputeStatus) gossip.GPUStatus {
	g := gossip.GPUStatus{State: string(s.State), Reason: s.Reason, Device: s.Device, Name: s.Name, UUID: s.UUID,
		MemoryTotalBytes: s.MemoryTotalBytes, MemoryBudgetBytes: s.MemoryBudgetBytes, Backend: s.Backend,
		GPUSteps: s.GPUSteps, CPUSteps: s.CPUSteps, Yields: s.Yields}
	if !s.Since.IsZero() {
		since := s.Since
		g.Since = &since
	}
	return g
}

// simDevice is the backend gradmesh sim computes with, and what to say
// about it in the summary.
type simDevice struct {
	backend training.Backend
	reason  string // why the CPU, when it is the CPU

	mu     sync.Mutex
	failed error // the GPU failure that moved the run to the CPU
}

// chooseSimDevice picks the simulator's backend. auto borrows a GPU only if
// it is idle right now (no foreign process, low utilization) and the CUDA
// backend opens; otherwise it logs one line saying why and uses the CPU. gpu
// uses the GPU whether or not its owner is busy (the user asked for it) and
// fails if it cannot. A GPU failure mid-run moves the run to the CPU with one
// log line.
func chooseSimDevice(f deviceFlags, log *slog.Logger) (*simDevice, error) {
	if f.mode == "cpu" {
		return &simDevice{backend: training.CPUBackend{}, reason: "--device cpu"}, nil
	}
	cpuBecause := func(reason string) (*simDevice, error) {
		if f.mode == "gpu" {
			return nil, fmt.Errorf("--device gpu: %s", reason)
		}
		log.Info("training on the CPU", "reason", reason)
		return &simDevice{backend: training.CPUBackend{}, reason: reason}, nil
	}
	session, reason, err := openGPUSession(f)
	if err != nil {
		return nil, err
	}
	if session == nil {
		return cpuBecause(reason)
	}
	idle := gpu.DefaultIdleConfig()
	idle.Grace = 0 // one free sample: the job is short and asks once
	mon, err := gpu.NewMonitor(session, gpu.MonitorConfig{Idle: idle, Device: f.index})
	if err != nil {
		return nil, errors.Join(err, session.Close())
	}
	st := mon.Poll()
	if st.State != gpu.StateContributing && f.mode == "gpu" {
		index := max(f.index, 0)
		g := session.ReadGPU(index)
		st = gpu.Status{State: st.State, Reason: st.Reason, Device: index, UUID: g.UUID, Name: g.Name}
		if g.Err != "" {
			st.State, st.Reason = gpu.StateNoGPU, fmt.Sprintf("GPU %d unreadable: %s", index, g.Err)
		}
	}
	if err := session.Close(); err != nil {
		return nil, err
	}
	switch {
	case st.State == gpu.StateNoGPU:
		return cpuBecause(st.Reason)
	case st.State != gpu.StateContributing && f.mode == "auto":
		return cpuBecause("GPU busy: " + st.Reason)
	}
	b, err := openCUDA(st)
	if err != nil {
		return cpuBecause("CUDA backend unavailable: " + err.Error())
	}
	d := &simDevice{}
	d.backend = training.WithCPUFallback(b, func(err error) {
		d.mu.Lock()
		d.failed = err
		d.mu.Unlock()
		log.Warn("GPU failed; the simulation continues on the CPU", "device", b.Device(), "err", err)
	})
	return d, nil
}

// model builds the simulator's prototype model on the chosen backend.
// --device gpu fails if the GPU cannot build it.
func (d *simDevice) model(f deviceFlags, spec string, input training.Shape, classes int) (training.Model, error) {
	m, err := d.backend.NewModel(spec, input, classes)
	if err != nil {
		return nil, err
	}
	if err := d.fellBack(); err != nil && f.mode == "gpu" {
		return nil, fmt.Errorf("--device gpu: %v", err)
	}
	return m, nil
}

func (d *simDevice) fellBack() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failed
}

// describe says in the summary which device ran the steps.
func (d *simDevice) describe() string {
	if d.reason != "" {
		return "cpu (" + d.reason + ")"
	}
	desc := d.backend.Name() + " on " + d.backend.Device()
	if err := d.fellBack(); err != nil {
		desc += fmt.Sprintf(", then the CPU after a GPU failure: %v", err)
	}
	return desc
}
