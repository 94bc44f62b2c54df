package cuda

import (
	"fmt"
	"unsafe"
)

// cuResult is the CUDA driver API's CUresult.
type cuResult int32

// driverAPI is the part of libcuda.so.1 gradmesh calls. The signatures follow
// cuda.h: CUdevice is a C int, CUdeviceptr a 64-bit integer, size_t a
// uintptr, and handles (CUcontext, CUmodule, CUfunction, CUstream) pointers
// held as uintptr.
type driverAPI struct {
	path string

	cuInit                    func(flags uint32) cuResult
	cuDriverGetVersion        func(version *int32) cuResult
	cuDeviceGetCount          func(count *int32) cuResult
	cuDeviceGet               func(dev *int32, ordinal int32) cuResult
	cuDeviceGetName           func(name *byte, size int32, dev int32) cuResult
	cuDeviceGetUuid           func(uuid *[16]byte, dev int32) cuResult
	cuDeviceTotalMem          func(bytes *uintptr, dev int32) cuResult
	cuDeviceGetAttribute      func(value *int32, attr int32, dev int32) cuResult
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) cuResult
	cuDevicePrimaryCtxRelease func(dev int32) cuResult
	cuCtxSetCurrent           func(ctx uintptr) cuResult
	cuCtxSynchronize          func() cuResult
	cuMemAlloc                func(ptr *uint64, bytes uintptr) cuResult
	cuMemFree                 func(ptr uint64) cuResult
	cuMemcpyHtoD              func(dst uint64, src unsafe.Pointer, bytes uintptr) cuResult
	cuMemcpyDtoH              func(dst unsafe.Pointer, src uint64, bytes uintptr) cuResult
	cuMemGetInfo              func(free, total *uintptr) cuResult
	cuModuleLoadDataEx        func(mod *uintptr, image unsafe.Pointer, numOptions uint32, options *int32, values *uintptr) cuResult
	cuModuleGetFunction       func(fn *uintptr, mod uintptr, name string) cuResult
	cuModuleUnload            func(mod uintptr) cuResult
	cuLaunchKernel            func(fn uintptr, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes uint32, stream uintptr, params unsafe.Pointer, extra unsafe.Pointer) cuResult
	cuGetErrorName            func(status cuResult, name **byte) cuResult
	cuGetErrorString          func(status cuResult, desc **byte) cuResult
}

// CUdevice_attribute and CUjit_option values used here, from cuda.h.
const (
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76
	jitErrorLogBuffer          = 5
	jitErrorLogBufferSizeBytes = 6
)

// symbols lists every function of d with the exported names that cuda.h's
// macros map the API names to (cuMemAlloc is cuMemAlloc_v2 since CUDA 3.2).
func (d *driverAPI) symbols() []symbol {
	return []symbol{
		sym(&d.cuInit, "cuInit"),
		sym(&d.cuDriverGetVersion, "cuDriverGetVersion"),
		sym(&d.cuDeviceGetCount, "cuDeviceGetCount"),
		sym(&d.cuDeviceGet, "cuDeviceGet"),
		sym(&d.cuDeviceGetName, "cuDeviceGetName"),
		sym(&d.cuDeviceGetUuid, "cuDeviceGetUuid_v2", "cuDeviceGetUuid"),
		sym(&d.cuDeviceTotalMem, "cuDeviceTotalMem_v2"),
		sym(&d.cuDeviceGetAttribute, "cuDeviceGetAttribute"),
		sym(&d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
		sym(&d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"),
		sym(&d.cuCtxSetCurrent, "cuCtxSetCurrent"),
		sym(&d.cuCtxSynchronize, "cuCtxSynchronize"),
		sym(&d.cuMemAlloc, "cuMemAlloc_v2"),
		sym(&d.cuMemFree, "cuMemFree_v2"),
		sym(&d.cuMemcpyHtoD, "cuMemcpyHtoD_v2"),
		sym(&d.cuMemcpyDtoH, "cuMemcpyDtoH_v2"),
		sym(&d.cuMemGetInfo, "cuMemGetInfo_v2"),
		sym(&d.cuModuleLoadDataEx, "cuModuleLoadDataEx"),
		sym(&d.cuModuleGetFunction, "cuModuleGetFunction"),
		sym(&d.cuModuleUnload, "cuModuleUnload"),
		sym(&d.cuLaunchKernel, "cuLaunchKernel"),
		sym(&d.cuGetErrorName, "cuGetErrorName"),
		sym(&d.cuGetErrorString, "cuGetErrorString"),
	}
}

var driverLibrary = library{
	what:  "the CUDA driver",
	names: []string{"libcuda.so.1"},
	hint:  "install the NVIDIA driver, or set " + LibsEnv + " to the directory holding libcuda.so.1",
}

// loadDriver opens libcuda.so.1 and binds the functions gradmesh calls.
func loadDriver(s *searcher) (*driverAPI, error) {
	handle, path, err := s.load(driverLibrary)
	if err != nil {
		return nil, err
	}
	d := &driverAPI{path: path}
	if err := bindSymbols(handle, path, d.symbols()); err != nil {
		return nil, err
	}
	return d, nil
}

// check turns a CUresult into an error that names the call, the status and
// the driver's description of it.
func (d *driverAPI) check(call string, r cuResult) error {
	if r == cudaSuccess {
		return nil
	}
	e := &Error{Call: call, Status: int(r), Name: "CUDA_ERROR_UNKNOWN"}
	var name, desc *byte
	if d.cuGetErrorName(r, &name) == cudaSuccess {
		e.Name = goString(name)
	}
	if d.cuGetErrorString(r, &desc) == cudaSuccess {
		e.Detail = goString(desc)
	}
	if advice := driverAdvice[int(r)]; advice != "" && e.Detail != "" {
		e.Detail += "; " + advice
	} else if advice != "" {
		e.Detail = advice
	}
	return e
}

// version formats a CUDA version number such as 12040 as "12.4".
func version(v int32) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }
