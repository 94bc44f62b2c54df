package gpu

import (
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestWriteTable(t *testing.T) {
	inv := Inventory{
		DriverVersion: "550.54.15", CUDAVersion: "12.4", NVMLVersion: "12.550.54.15",
		GPUs: []GPU{
			{
				Index: 0, Name: "NVIDIA H200 141GB HBM3e", UUID: "GPU-0",
				MemoryTotalBytes: ptr(uint64(144384 << 20)), MemoryUsedBytes: ptr(uint64(3 << 30)),
				UtilizationGPUPercent: ptr(uint32(37)), UtilizationMemoryPercent: ptr(uint32(12)),
				TemperatureC: ptr(uint32(41)), PowerDrawW: ptr(120.456), PowerLimitW: ptr(700.0),
				Processes: []Process{
					{PID: 77, Kind: KindGraphics},
					{PID: 4242, Name: "python3", UsedMemoryBytes: ptr(uint64(1 << 30)), Kind: KindComputeGraphics},
				},
			},
			{
				Index: 1, Name: "NVIDIA H200 141GB HBM3e", UUID: "GPU-1",
				MemoryTotalBytes: ptr(uint64(144384 << 20)), MemoryUsedBytes: ptr(uint64(512 << 20)),
				UtilizationGPUPercent: ptr(uint32(0)), UtilizationMemoryPercent: ptr(uint32(0)),
				TemperatureC: ptr(uint32(30)),
				Processes:    []Process{},
				Unavailable:  map[string]string{"power_draw_w": "ERROR_NOT_SUPPORTED", "power_limit_w": "ERROR_NOT_SUPPORTED"},
			},
			{Index: 2, Err: "name: ERROR_GPU_IS_LOST"},
		},
	}
	var b strings.Builder
	if err := WriteTable(&b, inv); err != nil {
		t.Fatal(err)
	}
	want := `driver 550.54.15  CUDA 12.4  NVML 12.550.54.15

GPU 0  NVIDIA H200 141GB HBM3e  GPU-0
  memory       3.0 GiB used of 141.0 GiB
  utilization  37% gpu, 12% memory
  temperature  41 °C
  power        120.5 W of 700 W limit
  processes
    PID   KIND              MEMORY   NAME
    77    graphics          -        -
    4242  compute+graphics  1.0 GiB  python3

GPU 1  NVIDIA H200 141GB HBM3e  GPU-1
  memory       512 MiB used of 141.0 GiB
  utilization  0% gpu, 0% memory
  temperature  30 °C
  power        n/a (ERROR_NOT_SUPPORTED)
  processes    none

GPU 2  n/a  n/a
  error: name: ERROR_GPU_IS_LOST
`
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}
