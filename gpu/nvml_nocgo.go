//go:build !cgo

package gpu

import "fmt"

// NVML stands in for the NVML session in builds without cgo, which cannot
// load libnvidia-ml: every machine then reads as having no driver.
type NVML struct{}

// NVMLOption configures an NVML session (ignored without cgo).
type NVMLOption func(*NVML)

// OpenSystem always fails with ErrNoDriver in a build without cgo.
func OpenSystem(...NVMLOption) (*NVML, error) {
	return nil, fmt.Errorf("%w: gradmesh was built without cgo, so it cannot load NVML", ErrNoDriver)
}

// Close does nothing.
func (*NVML) Close() error { return nil }

// Inventory returns ErrClosed: no session can be open without cgo.
func (*NVML) Inventory() (Inventory, error) { return Inventory{GPUs: []GPU{}}, ErrClosed }

// DeviceCount returns ErrClosed: no session can be open without cgo.
func (*NVML) DeviceCount() (int, error) { return 0, ErrClosed }

// ReadGPU returns a GPU marked unreadable.
func (*NVML) ReadGPU(index int) GPU { return GPU{Index: index, Err: ErrClosed.Error()} }
