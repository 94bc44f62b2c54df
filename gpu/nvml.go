//go:build cgo

package gpu

import (
	"cmp"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NVML is an initialised NVML session: OpenNVML calls Init once, Close calls
// Shutdown once, and no NVML function is called outside that span. Its
// methods are safe for concurrent use (NVML calls are serialised).
type NVML struct {
	mu     sync.Mutex
	lib    nvml.Interface
	procFS fs.FS
	closed bool
}

// NVMLOption configures an NVML session.
type NVMLOption func(*NVML)

// WithProcFS names the file system process names are read from (a view of
// /proc, rooted so that "PID/comm" opens a process's name). Nil turns name
// lookup off.
func WithProcFS(procFS fs.FS) NVMLOption {
	return func(s *NVML) { s.procFS = procFS }
}

// OpenSystem opens the machine's NVML (libnvidia-ml.so.1, loaded at run
// time). Without a driver it returns an error matching ErrNoDriver.
func OpenSystem(opts ...NVMLOption) (*NVML, error) {
	return OpenNVML(nvml.New(), opts...)
}

// OpenNVML initialises lib (the real library or a mock). When Init fails it
// returns an error matching ErrNoDriver and calls nothing else on lib: with
// the real library, any further call after a failed Init kills the process.
func OpenNVML(lib nvml.Interface, opts ...NVMLOption) (*NVML, error) {
	if lib == nil {
		return nil, fmt.Errorf("gpu: OpenNVML: nil nvml.Interface")
	}
	s := &NVML{lib: lib, procFS: os.DirFS("/proc")}
	for _, o := range opts {
		o(s)
	}
	if ret := lib.Init(); ret != nvml.SUCCESS {
		return nil, initError(ret)
	}
	return s, nil
}

// initError explains a failed Init without asking NVML (ret.Error() may
// call into the library). A missing library is the plain "no driver"; other
// failures say what to fix.
func initError(ret nvml.Return) error {
	var why string
	switch ret {
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return ErrNoDriver
	case nvml.ERROR_DRIVER_NOT_LOADED:
		why = "the NVIDIA kernel driver is not loaded"
	case nvml.ERROR_NO_PERMISSION:
		why = "no permission to open the NVIDIA device files"
	case nvml.ERROR_LIB_RM_VERSION_MISMATCH:
		why = "NVML library and kernel driver versions differ; reboot after a driver update"
	case nvml.ERROR_FUNCTION_NOT_FOUND:
		why = "libnvidia-ml.so.1 lacks nvmlInit; driver too old"
	default:
		why = fmt.Sprintf("NVML init returned error %d", int32(ret))
	}
	return fmt.Errorf("%w: %s", ErrNoDriver, why)
}

// Close shuts NVML down. Later calls on s return ErrClosed; a second Close
// returns nil.
func (s *NVML) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if ret := s.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("gpu: NVML shutdown: %s", ret.Error())
	}
	return nil
}

// Inventory reads the driver and every GPU. Only a failure to count the
// GPUs fails it; a field or a device that cannot be read is left empty.
func (s *NVML) Inventory() (Inventory, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := Inventory{GPUs: []GPU{}}
	if s.closed {
		return inv, ErrClosed
	}
	if v, ret := s.lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		inv.DriverVersion = v
	}
	if v, ret := s.lib.SystemGetNVMLVersion(); ret == nvml.SUCCESS {
		inv.NVMLVersion = v
	}
	if v, ret := s.lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS && v > 0 {
		inv.CUDAVersion = fmt.Sprintf("%d.%d", v/1000, v%1000/10)
	}
	n, err := s.deviceCount()
	if err != nil {
		return inv, err
	}
	for i := range n {
		inv.GPUs = append(inv.GPUs, s.readGPU(i))
	}
	return inv, nil
}

// DeviceCount is how many GPUs NVML sees now.
func (s *NVML) DeviceCount() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.deviceCount()
}

func (s *NVML) deviceCount() (int, error) {
	n, ret := s.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return 0, fmt.Errorf("gpu: counting GPUs: %s", ret.Error())
	}
	if n < 0 {
		return 0, fmt.Errorf("gpu: NVML reported %d GPUs", n)
	}
	return n, nil
}

// ReadGPU reads the GPU at NVML index. It always returns a GPU; Err says
// when the device could not be read at all.
func (s *NVML) ReadGPU(index int) GPU {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return GPU{Index: index, Err: ErrClosed.Error()}
	}
	return s.readGPU(index)
}

// deviceGone reports NVML errors that mean the device, not just one of its
// counters, is unusable.
func deviceGone(ret nvml.Return) bool {
	switch ret {
	case nvml.ERROR_GPU_IS_LOST, nvml.ERROR_RESET_REQUIRED, nvml.ERROR_UNINITIALIZED,
		nvml.ERROR_DRIVER_NOT_LOADED:
		return true
	}
	return false
}

// reading collects one device's fields, remembering which failed and
// stopping at the first error that means the device is gone.
type reading struct{ g *GPU }

// ok records a failed read of field and reports whether ret is SUCCESS.
func (r reading) ok(field string, ret nvml.Return) bool {
	if ret == nvml.SUCCESS {
		return true
	}
	if deviceGone(ret) {
		r.g.Err = field + ": " + ret.Error()
		return false
	}
	if r.g.Unavailable == nil {
		r.g.Unavailable = map[string]string{}
	}
	if prev, seen := r.g.Unavailable[field]; seen {
		r.g.Unavailable[field] = prev + "; " + ret.Error()
	} else {
		r.g.Unavailable[field] = ret.Error()
	}
	return false
}

func (s *NVML) readGPU(index int) GPU {
	g := GPU{Index: index}
	dev, ret := s.lib.DeviceGetHandleByIndex(index)
	if ret != nvml.SUCCESS {
		g.Err = "device handle: " + ret.Error()
		return g
	}
	r := reading{&g}
	steps := []func(){
		func() {
			if v, ret := dev.GetName(); r.ok("name", ret) {
				g.Name = v
			}
		},
		func() {
			if v, ret := dev.GetUUID(); r.ok("uuid", ret) {
				g.UUID = v
			}
		},
		func() {
			if m, ret := dev.GetMemoryInfo(); r.ok("memory", ret) {
				g.MemoryTotalBytes, g.MemoryUsedBytes = &m.Total, &m.Used
			}
		},
		func() {
			if u, ret := dev.GetUtilizationRates(); r.ok("utilization", ret) {
				g.UtilizationGPUPercent, g.UtilizationMemoryPercent = &u.Gpu, &u.Memory
			}
		},
		func() {
			if v, ret := dev.GetTemperature(nvml.TEMPERATURE_GPU); r.ok("temperature_c", ret) {
				g.TemperatureC = &v
			}
		},
		func() {
			if mw, ret := dev.GetPowerUsage(); r.ok("power_draw_w", ret) {
				g.PowerDrawW = watts(mw)
			}
		},
		func() {
			if mw, ret := dev.GetEnforcedPowerLimit(); r.ok("power_limit_w", ret) {
				g.PowerLimitW = watts(mw)
			}
		},
		func() { g.Processes = s.readProcesses(dev, r) },
	}
	for _, step := range steps {
		if g.Err != "" {
			break
		}
		step()
	}
	return g
}

func watts(milliwatts uint32) *float64 {
	w := float64(milliwatts) / 1000
	return &w
}

// readProcesses merges the compute and graphics lists, or returns nil when
// either cannot be read: a half list would hide a foreign process.
func (s *NVML) readProcesses(dev nvml.Device, r reading) []Process {
	compute, cret := dev.GetComputeRunningProcesses()
	if !r.ok("processes", cret) {
		return nil
	}
	graphics, gret := dev.GetGraphicsRunningProcesses()
	if !r.ok("processes", gret) {
		return nil
	}
	byPID := map[uint32]*Process{}
	add := func(infos []nvml.ProcessInfo, kind ProcessKind) {
		for _, info := range infos {
			p, seen := byPID[info.Pid]
			if !seen {
				p = &Process{PID: info.Pid, Kind: kind}
				byPID[info.Pid] = p
			} else if p.Kind != kind {
				p.Kind = KindComputeGraphics
			}
			if info.UsedGpuMemory != math.MaxUint64 { // NVML_VALUE_NOT_AVAILABLE
				mem := info.UsedGpuMemory
				if p.UsedMemoryBytes == nil || mem > *p.UsedMemoryBytes {
					p.UsedMemoryBytes = &mem
				}
			}
		}
	}
	add(compute, KindCompute)
	add(graphics, KindGraphics)
	procs := make([]Process, 0, len(byPID))
	for _, p := range byPID {
		p.Name = processName(s.procFS, p.PID)
		procs = append(procs, *p)
	}
	slices.SortFunc(procs, func(a, b Process) int { return cmp.Compare(a.PID, b.PID) })
	return procs
}
