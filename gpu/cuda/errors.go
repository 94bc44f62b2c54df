package cuda

import (
	"errors"
	"fmt"
)

// Error is a CUDA driver or cuBLAS call that returned a failure status.
type Error struct {
	Call   string // the C function, e.g. "cuMemAlloc_v2"
	Status int    // its CUresult or cublasStatus_t
	Name   string // the status's name, e.g. "CUDA_ERROR_OUT_OF_MEMORY"
	Detail string // the library's description, and what to do where known
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("cuda: %s: %s (%d)", e.Call, e.Name, e.Status)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

var (
	// ErrClosed is the failure of a model whose backend or self was closed.
	ErrClosed        = errors.New("cuda: closed")
	errBackendClosed = fmt.Errorf("%w: the backend was closed", ErrClosed)
	errModelClosed   = fmt.Errorf("%w: the model was closed", ErrClosed)
)

// CUresult values that get advice on top of the driver's own words.
const (
	cudaSuccess             = 0
	cudaErrorNoDevice       = 100
	cudaErrorStubLibrary    = 34
	cudaErrorInsufficientDr = 35
)

var driverAdvice = map[int]string{
	cudaErrorNoDevice:       "the driver sees no GPU (check nvidia-smi and CUDA_VISIBLE_DEVICES)",
	cudaErrorStubLibrary:    "the libcuda.so.1 found is the toolkit's link stub, not the driver's; install the NVIDIA driver",
	cudaErrorInsufficientDr: "the NVIDIA driver is older than this CUDA library needs",
}

// cublasStatusNames are cublasStatus_t's values, from cublas_api.h; cuBLAS's
// own cublasGetStatusName is missing from older releases.
var cublasStatusNames = map[int]string{
	1:  "CUBLAS_STATUS_NOT_INITIALIZED",
	3:  "CUBLAS_STATUS_ALLOC_FAILED",
	7:  "CUBLAS_STATUS_INVALID_VALUE",
	8:  "CUBLAS_STATUS_ARCH_MISMATCH",
	11: "CUBLAS_STATUS_MAPPING_ERROR",
	13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR",
	15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR",
}

var cublasAdvice = map[int]string{
	1:  "cuBLAS could not initialise: usually the driver is older than this cuBLAS, or the GPU is out of memory",
	3:  "out of GPU memory",
	7:  "bad arguments (a gradmesh bug: please report it)",
	13: "the GPU failed to run the kernel",
}

func cublasError(call string, status int32) error {
	if status == 0 {
		return nil
	}
	name, ok := cublasStatusNames[int(status)]
	if !ok {
		name = "CUBLAS_STATUS_UNKNOWN"
	}
	return &Error{Call: call, Status: int(status), Name: name, Detail: cublasAdvice[int(status)]}
}
