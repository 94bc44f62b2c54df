package gpu

import "errors"

// ErrNoDriver means NVML could not be initialised: no NVIDIA driver (or no
// libnvidia-ml.so.1) on this machine. It is the normal state of a CPU-only
// peer, not a failure.
var ErrNoDriver = errors.New("no NVIDIA driver found")

// ErrClosed is returned by an NVML session used after Close: NVML must not
// be called once shut down.
var ErrClosed = errors.New("gpu: NVML session closed")
