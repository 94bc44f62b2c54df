//go:build cgo

// Package nvmltest is a mock NVML machine for tests: go-nvml's DGX H200
// mock with every counter gradmesh reads wired to state a test can change
// while a Monitor polls it (load a GPU, start a process, unplug it).
package nvmltest

import (
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh200"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/gpus"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// GPU is the mutable state behind one mock H200.
type GPU struct {
	Util, MemUtil     uint32 // percent
	TemperatureC      uint32
	PowerMW, LimitMW  uint32 // milliwatts, as NVML reports them
	UsedBytes         uint64
	Compute, Graphics []nvml.ProcessInfo
	// A non-zero Return makes the matching calls fail with it.
	PowerRet, GraphicsRet, UtilRet nvml.Return
	Lost                           bool // every call on the device returns ERROR_GPU_IS_LOST
}

// Machine is a mock NVML (driver 550.54.15, CUDA 12.4) with n H200s.
type Machine struct {
	Server *server.Server // the nvml.Interface to open; it also records calls

	mu      sync.Mutex
	gpus    []*GPU
	visible int
}

// New returns a machine with n idle H200s: 0% load, 35 °C, 90 W of 700 W,
// 512 MiB used, no processes.
func New(n int) *Machine {
	m := &Machine{Server: dgxh200.NewWithGPUs(gpus.Multiple(n, gpus.H200_SXM5_141GB)...), visible: n}
	m.Server.DeviceGetCountFunc = func() (int, nvml.Return) {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.visible, nvml.SUCCESS
	}
	m.Server.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if i < 0 || i >= m.visible {
			return nil, nvml.ERROR_INVALID_ARGUMENT
		}
		return m.Server.Devices[i], nvml.SUCCESS
	}
	for _, d := range m.Server.Devices {
		g := &GPU{TemperatureC: 35, PowerMW: 90_000, LimitMW: 700_000, UsedBytes: 512 << 20}
		m.gpus = append(m.gpus, g)
		m.wire(d.(*server.Device), g)
	}
	return m
}

// Set changes GPU i's state atomically with respect to NVML calls.
func (m *Machine) Set(i int, f func(g *GPU)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m.gpus[i])
}

// Plug makes the first n GPUs visible (DeviceGetCount returns n).
func (m *Machine) Plug(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.visible = n
}

// UUID is GPU i's UUID as NVML reports it.
func (m *Machine) UUID(i int) string { return m.Server.Devices[i].(*server.Device).UUID }

// wire points a mock device's calls at g. Every device call gradmesh makes
// is set here: an unset mock function panics.
func (m *Machine) wire(d *server.Device, g *GPU) {
	// read runs f under the lock unless the GPU is lost.
	read := func(f func() nvml.Return) nvml.Return {
		m.mu.Lock()
		defer m.mu.Unlock()
		if g.Lost {
			return nvml.ERROR_GPU_IS_LOST
		}
		return f()
	}
	name, uuid := d.GetNameFunc, d.GetUUIDFunc
	d.GetNameFunc = func() (s string, ret nvml.Return) {
		ret = read(func() nvml.Return { s, ret = name(); return ret })
		return s, ret
	}
	d.GetUUIDFunc = func() (s string, ret nvml.Return) {
		ret = read(func() nvml.Return { s, ret = uuid(); return ret })
		return s, ret
	}
	d.GetMemoryInfoFunc = func() (mem nvml.Memory, ret nvml.Return) {
		ret = read(func() nvml.Return {
			total := d.MemoryInfo.Total
			mem = nvml.Memory{Total: total, Used: g.UsedBytes, Free: total - min(total, g.UsedBytes)}
			return nvml.SUCCESS
		})
		return mem, ret
	}
	d.GetUtilizationRatesFunc = func() (u nvml.Utilization, ret nvml.Return) {
		ret = read(func() nvml.Return {
			u = nvml.Utilization{Gpu: g.Util, Memory: g.MemUtil}
			return orSuccess(g.UtilRet)
		})
		return u, ret
	}
	d.GetTemperatureFunc = func(nvml.TemperatureSensors) (c uint32, ret nvml.Return) {
		ret = read(func() nvml.Return { c = g.TemperatureC; return nvml.SUCCESS })
		return c, ret
	}
	d.GetPowerUsageFunc = func() (mw uint32, ret nvml.Return) {
		ret = read(func() nvml.Return { mw = g.PowerMW; return orSuccess(g.PowerRet) })
		return mw, ret
	}
	d.GetEnforcedPowerLimitFunc = func() (mw uint32, ret nvml.Return) {
		ret = read(func() nvml.Return { mw = g.LimitMW; return orSuccess(g.PowerRet) })
		return mw, ret
	}
	d.GetComputeRunningProcessesFunc = func() (ps []nvml.ProcessInfo, ret nvml.Return) {
		ret = read(func() nvml.Return { ps = append(ps, g.Compute...); return nvml.SUCCESS })
		return ps, ret
	}
	d.GetGraphicsRunningProcessesFunc = func() (ps []nvml.ProcessInfo, ret nvml.Return) {
		ret = read(func() nvml.Return { ps = append(ps, g.Graphics...); return orSuccess(g.GraphicsRet) })
		return ps, ret
	}
}

func orSuccess(ret nvml.Return) nvml.Return {
	if ret == 0 {
		return nvml.SUCCESS
	}
	return ret
}
