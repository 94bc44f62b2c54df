package cuda

import "unsafe"

// devicePtr is an address in GPU memory (CUdeviceptr).
type devicePtr uint64

// offset returns the address of the float32 element i of a buffer at p.
func (p devicePtr) offset(i int) devicePtr { return p + devicePtr(4*i) }

// device is what the CUDA MLP needs from a GPU: memory, copies, cuBLAS's
// SGEMM and the kernels of kernels.cu. cudaDevice drives a real GPU; the tests
// drive the same MLP code through an emulation in host memory that checks
// every access against its allocations. The backend serialises all calls and
// makes each between enter and its leave.
type device interface {
	// enter binds the calling goroutine to the device (for CUDA: locks the
	// OS thread and makes the context current); leave undoes it.
	enter() (leave func(), err error)
	alloc(bytes int) (devicePtr, error)
	free(p devicePtr) error
	upload(dst devicePtr, src []byte) error
	download(dst []byte, src devicePtr) error
	// sgemm is cuBLAS's column-major C = alpha·op(A)·op(B) + beta·C with
	// op(A) m×k, op(B) k×n and C m×n; with beta 0, C is not read.
	sgemm(transA, transB bool, m, n, k int, alpha float32, a devicePtr, lda int, b devicePtr, ldb int, beta float32, c devicePtr, ldc int) error
	// launch runs kernel k over items work items.
	launch(k kernelID, items int, args ...kernelArg) error
	// memInfo reports the device's free and total memory in bytes.
	memInfo() (free, total uint64, err error)
	// close frees what the device itself holds; it is called once.
	close() error
}

// gemmRowMajor computes C = alpha·op(A)·op(B) + beta·C on row-major
// matrices: op(A) is m×k, op(B) k×n, C m×n, and lda, ldb, ldc are the row
// strides of A, B and C as stored. cuBLAS is column-major, and a row-major
// matrix read column-major is its transpose, so this asks cuBLAS for
// Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands and m, n swap, each keeps its op.
func gemmRowMajor(d device, transA, transB bool, m, n, k int, alpha float32, a devicePtr, lda int, b devicePtr, ldb int, beta float32, c devicePtr, ldc int) error {
	return d.sgemm(transB, transA, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc)
}

// bytesOf views a slice of plain numbers as its bytes, for copies.
func bytesOf[T float32 | float64 | int32](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}
