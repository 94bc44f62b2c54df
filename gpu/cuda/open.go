package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/gradmesh/gradmesh/training"
)

// libraries caches the loaded driver and cuBLAS: they are never unloaded
// (unloading libcuda after cuInit is unsafe), and later Opens reuse them.
var libraries struct {
	sync.Mutex
	drv  *driverAPI
	blas *cublasAPI
}

// Open loads the CUDA driver (libcuda.so.1) and cuBLAS at run time and
// prepares GPU deviceIndex (0 is the first the driver lists, after
// CUDA_VISIBLE_DEVICES). It fails with an error that says what is missing,
// never by crashing: no driver, no cuBLAS, no GPU, a GPU or driver too old
// for the kernels. Where the libraries are searched is described in the
// package documentation.
func Open(deviceIndex int) (training.Backend, error) {
	return open(systemSearcher(), deviceIndex)
}

func open(s *searcher, deviceIndex int) (training.Backend, error) {
	if deviceIndex < 0 {
		return nil, fmt.Errorf("cuda: device index %d is negative", deviceIndex)
	}
	// The context made current below belongs to this OS thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	libraries.Lock()
	defer libraries.Unlock()
	drv, err := initDriver(s)
	if err != nil {
		return nil, err
	}
	var driverVersion, count int32
	if err := drv.check("cuDriverGetVersion", drv.cuDriverGetVersion(&driverVersion)); err != nil {
		return nil, err
	}
	if driverVersion < minDriverVersion {
		return nil, fmt.Errorf("cuda: the NVIDIA driver supports CUDA %s; gradmesh's kernels need %s or newer", version(driverVersion), version(minDriverVersion))
	}
	if err := drv.check("cuDeviceGetCount", drv.cuDeviceGetCount(&count)); err != nil {
		return nil, err
	}
	if deviceIndex >= int(count) {
		return nil, fmt.Errorf("cuda: device %d requested, the driver sees %d GPU(s)", deviceIndex, count)
	}
	var ordinal int32
	if err := drv.check("cuDeviceGet", drv.cuDeviceGet(&ordinal, int32(deviceIndex))); err != nil {
		return nil, err
	}
	name, err := deviceName(drv, ordinal)
	if err != nil {
		return nil, err
	}
	var major, minor int32
	var totalMem uintptr
	if err := errors.Join(
		drv.check("cuDeviceGetAttribute", drv.cuDeviceGetAttribute(&major, attrComputeCapabilityMajor, ordinal)),
		drv.check("cuDeviceGetAttribute", drv.cuDeviceGetAttribute(&minor, attrComputeCapabilityMinor, ordinal)),
		drv.check("cuDeviceTotalMem_v2", drv.cuDeviceTotalMem(&totalMem, ordinal))); err != nil {
		return nil, err
	}
	if cc := major*10 + minor; cc < minComputeCapability {
		return nil, fmt.Errorf("cuda: %s has compute capability %d.%d; gradmesh's kernels need %d.%d or newer",
			name, major, minor, minComputeCapability/10, minComputeCapability%10)
	}
	if libraries.blas == nil {
		blas, err := loadCublas(s, driverVersion)
		if err != nil {
			return nil, err
		}
		libraries.blas = blas
	}
	dev, err := openDevice(drv, libraries.blas, ordinal)
	if err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("GPU %d: %s (sm_%d%d, %.1f GiB), CUDA driver %s, cuBLAS %s (%s)", deviceIndex, name, major, minor,
		float64(totalMem)/(1<<30), version(driverVersion), libraries.blas.version(), libraries.blas.path)
	return newBackend(dev, desc), nil
}

// initDriver loads the driver library once and initialises it; the caller
// holds libraries' lock.
func initDriver(s *searcher) (*driverAPI, error) {
	if libraries.drv == nil {
		drv, err := loadDriver(s)
		if err != nil {
			return nil, err
		}
		libraries.drv = drv
	}
	drv := libraries.drv
	if err := drv.check("cuInit", drv.cuInit(0)); err != nil {
		return nil, fmt.Errorf("%w (driver library %s)", err, drv.path)
	}
	return drv, nil
}

func deviceName(drv *driverAPI, ordinal int32) (string, error) {
	buf := make([]byte, 256)
	if err := drv.check("cuDeviceGetName", drv.cuDeviceGetName(&buf[0], int32(len(buf)), ordinal)); err != nil {
		return "", err
	}
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	return string(buf), nil
}
