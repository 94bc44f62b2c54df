//go:build cgo

package gpu

import (
	"strconv"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh200"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/gpus"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// fakeGPU is the mutable state behind one mock H200.
type fakeGPU struct {
	util, memUtil     uint32
	temperatureC      uint32
	powerMW, limitMW  uint32
	usedBytes         uint64
	compute, graphics []nvml.ProcessInfo
	// failures: a non-zero Return makes that call fail.
	powerRet, graphicsRet, utilRet nvml.Return
	lost                           bool // every device call returns ERROR_GPU_IS_LOST
}

// fakeMachine is a mock NVML over go-nvml's DGX H200 whose GPUs a test can
// load, unplug and fill with processes while a Monitor polls it.
type fakeMachine struct {
	mu      sync.Mutex
	srv     *server.Server
	gpus    []*fakeGPU
	visible int // DeviceGetCount; devices past it are unplugged
}

func newFakeMachine(t testing.TB, n int) *fakeMachine {
	t.Helper()
	m := &fakeMachine{srv: dgxh200.NewWithGPUs(gpus.Multiple(n, gpus.H200_SXM5_141GB)...), visible: n}
	m.srv.DeviceGetCountFunc = func() (int, nvml.Return) {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.visible, nvml.SUCCESS
	}
	m.srv.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if i < 0 || i >= m.visible {
			return nil, nvml.ERROR_INVALID_ARGUMENT
		}
		return m.srv.Devices[i], nvml.SUCCESS
	}
	for _, d := range m.srv.Devices {
		g := &fakeGPU{temperatureC: 35, powerMW: 90_000, limitMW: 700_000, usedBytes: 512 << 20}
		m.gpus = append(m.gpus, g)
		m.wire(d.(*server.Device), g)
	}
	return m
}

// wire points a mock device's counters at g. Every NVML call the package
// makes is set here: an unset mock function panics.
func (m *fakeMachine) wire(d *server.Device, g *fakeGPU) {
	// read runs f under the lock unless the GPU is lost.
	read := func(f func() nvml.Return) nvml.Return {
		m.mu.Lock()
		defer m.mu.Unlock()
		if g.lost {
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
			mem = nvml.Memory{Total: d.MemoryInfo.Total, Used: g.usedBytes, Free: d.MemoryInfo.Total - g.usedBytes}
			return nvml.SUCCESS
		})
		return mem, ret
	}
	d.GetUtilizationRatesFunc = func() (u nvml.Utilization, ret nvml.Return) {
		ret = read(func() nvml.Return {
			u = nvml.Utilization{Gpu: g.util, Memory: g.memUtil}
			return orSuccess(g.utilRet)
		})
		return u, ret
	}
	d.GetTemperatureFunc = func(nvml.TemperatureSensors) (c uint32, ret nvml.Return) {
		ret = read(func() nvml.Return { c = g.temperatureC; return nvml.SUCCESS })
		return c, ret
	}
	d.GetPowerUsageFunc = func() (mw uint32, ret nvml.Return) {
		ret = read(func() nvml.Return { mw = g.powerMW; return orSuccess(g.powerRet) })
		return mw, ret
	}
	d.GetEnforcedPowerLimitFunc = func() (mw uint32, ret nvml.Return) {
		ret = read(func() nvml.Return { mw = g.limitMW; return orSuccess(g.powerRet) })
		return mw, ret
	}
	d.GetComputeRunningProcessesFunc = func() (ps []nvml.ProcessInfo, ret nvml.Return) {
		ret = read(func() nvml.Return { ps = append(ps, g.compute...); return nvml.SUCCESS })
		return ps, ret
	}
	d.GetGraphicsRunningProcessesFunc = func() (ps []nvml.ProcessInfo, ret nvml.Return) {
		ret = read(func() nvml.Return { ps = append(ps, g.graphics...); return orSuccess(g.graphicsRet) })
		return ps, ret
	}
}

func orSuccess(ret nvml.Return) nvml.Return {
	if ret == 0 {
		return nvml.SUCCESS
	}
	return ret
}

// set changes GPU i's state under the machine's lock.
func (m *fakeMachine) set(i int, f func(g *fakeGPU)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m.gpus[i])
}

// plug makes the first n GPUs visible.
func (m *fakeMachine) plug(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.visible = n
}

// uuid is GPU i's UUID as NVML reports it.
func (m *fakeMachine) uuid(i int) string { return m.srv.Devices[i].(*server.Device).UUID }

// open starts an NVML session on the machine with a fake /proc.
func (m *fakeMachine) open(t testing.TB, procs fstest.MapFS) *NVML {
	t.Helper()
	s, err := OpenNVML(m.srv, WithProcFS(procs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// procFS is a fake /proc naming the given PIDs.
func procFS(names map[uint32]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for pid, name := range names {
		fsys[strconv.FormatUint(uint64(pid), 10)+"/comm"] = &fstest.MapFile{Data: []byte(name + "\n")}
	}
	return fsys
}
