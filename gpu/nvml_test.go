//go:build cgo

package gpu

import (
	"errors"
	"math"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"

	"github.com/gradmesh/gradmesh/gpu/nvmltest"
)

func TestOpenWithoutDriverMakesNoOtherCall(t *testing.T) {
	for _, c := range []struct {
		ret  nvml.Return
		want string
	}{
		{nvml.ERROR_LIBRARY_NOT_FOUND, "no NVIDIA driver found"},
		{nvml.ERROR_DRIVER_NOT_LOADED, "no NVIDIA driver found: the NVIDIA kernel driver is not loaded"},
		{nvml.ERROR_NO_PERMISSION, "no NVIDIA driver found: no permission to open the NVIDIA device files"},
	} {
		// Only Init is set: any other call panics in the mock, as it would
		// kill the process with the real library.
		lib := &mock.Interface{InitFunc: func() nvml.Return { return c.ret }}
		s, err := OpenNVML(lib)
		if s != nil || !errors.Is(err, ErrNoDriver) || err.Error() != c.want {
			t.Errorf("Init %v: got %v, %q; want ErrNoDriver %q", c.ret, s, err, c.want)
		}
		if n := len(lib.InitCalls()); n != 1 {
			t.Errorf("Init called %d times", n)
		}
	}
}

func TestOpenSystemOnThisMachine(t *testing.T) {
	s, err := OpenSystem()
	if err == nil {
		s.Close()
		t.Skip("an NVIDIA driver is present; the driverless path is covered by mocks")
	}
	if !errors.Is(err, ErrNoDriver) || err.Error() != "no NVIDIA driver found" {
		t.Fatalf("OpenSystem without a driver: %v", err)
	}
}

func u64(v uint64) *uint64 { return &v }

func TestInventoryReadsEveryField(t *testing.T) {
	m := nvmltest.New(2)
	m.Set(0, func(g *nvmltest.GPU) {
		g.Util, g.MemUtil, g.TemperatureC = 37, 12, 41
		g.PowerMW, g.LimitMW, g.UsedBytes = 120_500, 700_000, 3<<30
		g.Compute = []nvml.ProcessInfo{{Pid: 4242, UsedGpuMemory: 1 << 30}}
		g.Graphics = []nvml.ProcessInfo{
			{Pid: 4242, UsedGpuMemory: 1 << 30},
			{Pid: 77, UsedGpuMemory: math.MaxUint64}, // NVML_VALUE_NOT_AVAILABLE
		}
	})
	s := open(t, m, procFS(map[uint32]string{4242: "python3"}))
	inv, err := s.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	if inv.DriverVersion != "550.54.15" || inv.NVMLVersion != "12.550.54.15" || inv.CUDAVersion != "12.4" {
		t.Errorf("versions: %+v", inv)
	}
	if len(inv.GPUs) != 2 {
		t.Fatalf("%d GPUs, want 2", len(inv.GPUs))
	}
	g := inv.GPUs[0]
	if g.Index != 0 || g.Name != "NVIDIA H200 141GB HBM3e" || g.UUID != m.UUID(0) || g.Err != "" || g.Unavailable != nil {
		t.Errorf("identity: %+v", g)
	}
	if *g.MemoryTotalBytes != 144384<<20 { // the mock H200's 141 GiB
		t.Errorf("memory total %d", *g.MemoryTotalBytes)
	}
	if *g.MemoryUsedBytes != 3<<30 || *g.UtilizationGPUPercent != 37 || *g.UtilizationMemoryPercent != 12 ||
		*g.TemperatureC != 41 || *g.PowerDrawW != 120.5 || *g.PowerLimitW != 700 {
		t.Errorf("counters: used %d util %d/%d temp %d power %v/%v", *g.MemoryUsedBytes, *g.UtilizationGPUPercent,
			*g.UtilizationMemoryPercent, *g.TemperatureC, *g.PowerDrawW, *g.PowerLimitW)
	}
	want := []Process{
		{PID: 77, Kind: KindGraphics},
		{PID: 4242, Name: "python3", UsedMemoryBytes: u64(1 << 30), Kind: KindComputeGraphics},
	}
	if !g.ProcessesListed() || len(g.Processes) != len(want) {
		t.Fatalf("processes %+v", g.Processes)
	}
	for i, p := range g.Processes {
		w := want[i]
		if p.PID != w.PID || p.Name != w.Name || p.Kind != w.Kind || (p.UsedMemoryBytes == nil) != (w.UsedMemoryBytes == nil) ||
			p.UsedMemoryBytes != nil && *p.UsedMemoryBytes != *w.UsedMemoryBytes {
			t.Errorf("process %d: %+v, want %+v", i, p, w)
		}
	}
	if idle := inv.GPUs[1]; idle.Processes == nil || len(idle.Processes) != 0 || !idle.ProcessesListed() {
		t.Errorf("idle GPU processes: %#v", idle.Processes)
	}
}

func TestUnsupportedFieldLeavesOnlyThatFieldEmpty(t *testing.T) {
	m := nvmltest.New(1)
	m.Set(0, func(g *nvmltest.GPU) { g.PowerRet = nvml.ERROR_NOT_SUPPORTED })
	inv, err := open(t, m, nil).Inventory()
	if err != nil {
		t.Fatal(err)
	}
	g := inv.GPUs[0]
	if g.PowerDrawW != nil || g.PowerLimitW != nil {
		t.Errorf("power read despite NOT_SUPPORTED: %v %v", g.PowerDrawW, g.PowerLimitW)
	}
	if g.Unavailable["power_draw_w"] != "ERROR_NOT_SUPPORTED" || g.Unavailable["power_limit_w"] != "ERROR_NOT_SUPPORTED" || len(g.Unavailable) != 2 {
		t.Errorf("unavailable %v", g.Unavailable)
	}
	if g.Err != "" || g.TemperatureC == nil || g.UtilizationGPUPercent == nil || !g.ProcessesListed() {
		t.Errorf("other fields lost: %+v", g)
	}
}

func TestHalfAProcessListIsNoList(t *testing.T) {
	m := nvmltest.New(1)
	m.Set(0, func(g *nvmltest.GPU) {
		g.Compute = []nvml.ProcessInfo{{Pid: 1, UsedGpuMemory: 1}}
		g.GraphicsRet = nvml.ERROR_NO_PERMISSION
	})
	g := open(t, m, nil).ReadGPU(0)
	if g.Processes != nil || g.ProcessesListed() || g.Unavailable["processes"] != "ERROR_NO_PERMISSION" {
		t.Errorf("processes %v listed=%v unavailable %v", g.Processes, g.ProcessesListed(), g.Unavailable)
	}
}

func TestLostGPUIsMarkedAndOthersStillRead(t *testing.T) {
	m := nvmltest.New(2)
	m.Set(0, func(g *nvmltest.GPU) { g.Lost = true })
	inv, err := open(t, m, nil).Inventory()
	if err != nil {
		t.Fatal(err)
	}
	if lost := inv.GPUs[0]; lost.Err != "name: ERROR_GPU_IS_LOST" || lost.UUID != "" {
		t.Errorf("lost GPU: %+v", lost)
	}
	if ok := inv.GPUs[1]; ok.Err != "" || ok.UUID != m.UUID(1) {
		t.Errorf("healthy GPU: %+v", ok)
	}
	if g := open(t, m, nil).ReadGPU(5); g.Err != "device handle: ERROR_INVALID_ARGUMENT" {
		t.Errorf("absent index: %+v", g)
	}
}

func TestNoGPUIsNotAnError(t *testing.T) {
	m := nvmltest.New(1)
	m.Plug(0)
	inv, err := open(t, m, nil).Inventory()
	if err != nil || inv.GPUs == nil || len(inv.GPUs) != 0 || inv.DriverVersion == "" {
		t.Fatalf("inventory %+v, %v", inv, err)
	}
}

func TestCloseShutsDownOnceAndGuardsLaterCalls(t *testing.T) {
	m := nvmltest.New(1)
	s, err := OpenNVML(m.Server)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(m.Server.ShutdownCalls()); n != 1 {
		t.Errorf("Shutdown called %d times", n)
	}
	before := len(m.Server.DeviceGetCountCalls())
	if _, err := s.Inventory(); !errors.Is(err, ErrClosed) {
		t.Errorf("Inventory after Close: %v", err)
	}
	if _, err := s.DeviceCount(); !errors.Is(err, ErrClosed) {
		t.Errorf("DeviceCount after Close: %v", err)
	}
	if g := s.ReadGPU(0); g.Err != ErrClosed.Error() {
		t.Errorf("ReadGPU after Close: %+v", g)
	}
	if after := len(m.Server.DeviceGetCountCalls()); after != before {
		t.Errorf("NVML called after Close")
	}
}

func TestProcessNamesCannotDriveTheTerminal(t *testing.T) {
	fsys := fstest.MapFS{
		"10/comm": {Data: []byte("\x1b[2Jevil\n")},
		"11/comm": {Data: []byte(strings.Repeat("x", 200))},
	}
	if got := processName(fsys, 10); got != "?[2Jevil" {
		t.Errorf("name %q", got)
	}
	if got := processName(fsys, 11); len(got) != maxCommBytes {
		t.Errorf("long name read to %d bytes", len(got))
	}
	if got := processName(fsys, 12); got != "" {
		t.Errorf("missing process named %q", got)
	}
}
