package gpu

// Inventory is what NVML reports about a machine's NVIDIA driver and GPUs.
// Version fields are empty when NVML cannot tell them; GPUs is empty (never
// nil) when the driver sees no GPU.
type Inventory struct {
	DriverVersion string `json:"driver_version"`
	CUDAVersion   string `json:"cuda_version"` // newest CUDA the driver supports, e.g. "12.4"
	NVMLVersion   string `json:"nvml_version"`
	GPUs          []GPU  `json:"gpus"`
}

// GPU is one device as NVML saw it at one moment. A field NVML could not
// read (ERROR_NOT_SUPPORTED on power, say) is nil and named in Unavailable
// with NVML's error; it does not spoil the rest of the reading. Err is set
// when the device itself could not be read (handle lookup failed, GPU
// lost); the other fields are then best-effort.
type GPU struct {
	Index int    `json:"index"` // NVML index, as nvidia-smi numbers devices
	Name  string `json:"name,omitempty"`
	UUID  string `json:"uuid,omitempty"`

	MemoryTotalBytes *uint64 `json:"memory_total_bytes,omitempty"`
	MemoryUsedBytes  *uint64 `json:"memory_used_bytes,omitempty"`

	// Percent of the last sample period (1/6 s to 1 s, by model) during
	// which a kernel ran / device memory was read or written.
	UtilizationGPUPercent    *uint32 `json:"utilization_gpu_percent,omitempty"`
	UtilizationMemoryPercent *uint32 `json:"utilization_memory_percent,omitempty"`

	TemperatureC *uint32  `json:"temperature_c,omitempty"`
	PowerDrawW   *float64 `json:"power_draw_w,omitempty"`
	PowerLimitW  *float64 `json:"power_limit_w,omitempty"` // the enforced limit

	// Processes holding a compute or graphics context on the device,
	// ordered by PID. Nil when they could not be listed (see Unavailable
	// "processes"); empty when there are none.
	Processes []Process `json:"processes"`

	Unavailable map[string]string `json:"unavailable,omitempty"` // JSON field name → NVML error
	Err         string            `json:"error,omitempty"`
}

// ProcessesListed reports whether Processes is the complete list: both the
// compute and the graphics list were read.
func (g GPU) ProcessesListed() bool {
	return g.Err == "" && g.Processes != nil
}

// ProcessKind says which kind of context a process holds on a GPU.
type ProcessKind string

const (
	KindCompute         ProcessKind = "compute"
	KindGraphics        ProcessKind = "graphics"
	KindComputeGraphics ProcessKind = "compute+graphics"
)

// Process is one process with a context on a GPU. PIDs are as the driver
// reports them: host PIDs, which inside a container are not the
// container's own.
type Process struct {
	PID  uint32 `json:"pid"`
	Name string `json:"name,omitempty"` // from /proc/PID/comm; empty if unreadable
	// Nil when the driver does not say (e.g. under some containers).
	UsedMemoryBytes *uint64     `json:"used_memory_bytes,omitempty"`
	Kind            ProcessKind `json:"kind"`
}
