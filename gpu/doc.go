// Package gpu is gradmesh's hardware room: what GPUs a machine has (an NVML
// inventory), when gradmesh may borrow one (the idle policy), and the shell
// that watches NVML and says "contribute" or "yield" (the Monitor).
//
// NVML is read through go-nvml's nvml.Interface so tests run on go-nvml's
// mock devices; a machine without an NVIDIA driver is normal and reads as
// ErrNoDriver. The NVML session needs cgo; a build without cgo compiles the
// rest of the package and reports every machine as driverless.
package gpu
