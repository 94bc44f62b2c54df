package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"unsafe"
)

// cudaDevice drives one GPU through the driver API (memory, copies, kernels)
// and cuBLAS (SGEMM), all on the legacy default stream, so every operation
// runs in issue order and each device-to-host copy waits for the work before
// it.
type cudaDevice struct {
	drv     *driverAPI
	blas    *cublasAPI
	ordinal int32
	ctx     uintptr // the device's primary context, shared with cuBLAS
	handle  uintptr // cuBLAS handle
	module  uintptr
	fns     [numKernels]uintptr
	args    *launchScratch
}

// launchScratch holds what C reads through pointers during a call: kernel
// argument values, the pointer array cuLaunchKernel takes, and SGEMM's alpha
// and beta. It is pinned for the duration of each call that hands C a
// pointer to memory holding pointers, as cgo's pointer rules ask. (Pinned
// for good, an abandoned Backend would make the runtime panic over a leaked
// pin when the Pinner is collected.)
type launchScratch struct {
	vals        [maxKernelParams]uint64
	ptrs        [maxKernelParams]unsafe.Pointer
	alpha, beta float32
}

// openDevice prepares GPU ordinal: its primary context, the kernels (JIT
// compiled from the embedded PTX by the driver) and a cuBLAS handle. The
// caller has locked its OS thread. On failure it releases what it took.
func openDevice(drv *driverAPI, blas *cublasAPI, ordinal int32) (d *cudaDevice, err error) {
	d = &cudaDevice{drv: drv, blas: blas, ordinal: ordinal, args: &launchScratch{}}
	if err := drv.check("cuDevicePrimaryCtxRetain", drv.cuDevicePrimaryCtxRetain(&d.ctx, ordinal)); err != nil {
		return nil, err
	}
	for i := range d.args.ptrs {
		d.args.ptrs[i] = unsafe.Pointer(&d.args.vals[i])
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.close())
			d = nil
		}
	}()
	if err := drv.check("cuCtxSetCurrent", drv.cuCtxSetCurrent(d.ctx)); err != nil {
		return d, err
	}
	if err := d.loadKernels(); err != nil {
		return d, err
	}
	if err := cublasError("cublasCreate_v2", blas.create(&d.handle)); err != nil {
		return d, err
	}
	return d, cublasError("cublasSetMathMode", blas.setMathMode(d.handle, cublasDefaultMath))
}

// loadKernels hands the PTX to the driver's JIT and looks up every kernel.
// A JIT failure carries the compiler's log.
func (d *cudaDevice) loadKernels() error {
	image := append([]byte(kernelsPTX), 0) // the driver reads PTX as a C string
	jitLog := make([]byte, 8192)
	var pin runtime.Pinner
	pin.Pin(&jitLog[0])
	defer pin.Unpin()
	options := [2]int32{jitErrorLogBuffer, jitErrorLogBufferSizeBytes}
	values := [2]uintptr{uintptr(unsafe.Pointer(&jitLog[0])), uintptr(len(jitLog))}
	r := d.drv.cuModuleLoadDataEx(&d.module, unsafe.Pointer(&image[0]), 2, &options[0], &values[0])
	runtime.KeepAlive(image)
	if err := d.drv.check("cuModuleLoadDataEx", r); err != nil {
		n := min(int(values[1]), len(jitLog))
		if msg := strings.Join(strings.Fields(string(bytes.TrimRight(jitLog[:n], "\x00"))), " "); msg != "" {
			return fmt.Errorf("%w; JIT log: %s", err, msg)
		}
		return err
	}
	for k, spec := range kernelSpecs {
		if err := d.drv.check("cuModuleGetFunction("+spec.name+")", d.drv.cuModuleGetFunction(&d.fns[k], d.module, spec.name)); err != nil {
			return err
		}
	}
	return nil
}

func (d *cudaDevice) enter() (func(), error) {
	runtime.LockOSThread()
	if err := d.drv.check("cuCtxSetCurrent", d.drv.cuCtxSetCurrent(d.ctx)); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	return runtime.UnlockOSThread, nil
}

func (d *cudaDevice) alloc(n int) (devicePtr, error) {
	var p uint64
	if err := d.drv.check(fmt.Sprintf("cuMemAlloc_v2(%d bytes)", n), d.drv.cuMemAlloc(&p, uintptr(max(n, 4)))); err != nil {
		return 0, err
	}
	return devicePtr(p), nil
}

func (d *cudaDevice) free(p devicePtr) error {
	return d.drv.check("cuMemFree_v2", d.drv.cuMemFree(uint64(p)))
}

func (d *cudaDevice) upload(dst devicePtr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	r := d.drv.cuMemcpyHtoD(uint64(dst), unsafe.Pointer(&src[0]), uintptr(len(src)))
	runtime.KeepAlive(src)
	return d.drv.check("cuMemcpyHtoD_v2", r)
}

// download waits for all work before it, so an asynchronous failure of an
// earlier kernel or SGEMM surfaces here.
func (d *cudaDevice) download(dst []byte, src devicePtr) error {
	if len(dst) == 0 {
		return nil
	}
	r := d.drv.cuMemcpyDtoH(unsafe.Pointer(&dst[0]), uint64(src), uintptr(len(dst)))
	runtime.KeepAlive(dst)
	if err := d.drv.check("cuMemcpyDtoH_v2", r); err != nil {
		return fmt.Errorf("%w (the failure may come from a kernel or SGEMM issued before the copy)", err)
	}
	return nil
}

func (d *cudaDevice) sgemm(transA, transB bool, m, n, k int, alpha float32, a devicePtr, lda int, b devicePtr, ldb int, beta float32, c devicePtr, ldc int) error {
	for _, v := range []int{m, n, k, lda, ldb, ldc} {
		if v < 0 || v > math.MaxInt32 {
			return fmt.Errorf("cuda: SGEMM dimension %d does not fit a C int", v)
		}
	}
	op := func(t bool) int32 {
		if t {
			return cublasOpT
		}
		return cublasOpN
	}
	d.args.alpha, d.args.beta = alpha, beta
	return cublasError("cublasSgemm_v2", d.blas.sgemm(d.handle, op(transA), op(transB), int32(m), int32(n), int32(k),
		&d.args.alpha, uint64(a), int32(lda), uint64(b), int32(ldb), &d.args.beta, uint64(c), int32(ldc)))
}

func (d *cudaDevice) launch(k kernelID, items int, args ...kernelArg) error {
	if err := checkArgs(k, args); err != nil {
		return err
	}
	for i, a := range args {
		d.args.vals[i] = a.bits
	}
	grid, block := launchShape(items)
	var pin runtime.Pinner
	pin.Pin(d.args)
	r := d.drv.cuLaunchKernel(d.fns[k], grid, 1, 1, block, 1, 1, 0, 0, unsafe.Pointer(&d.args.ptrs[0]), nil)
	pin.Unpin() // the driver copied the arguments before returning
	return d.drv.check("cuLaunchKernel("+kernelSpecs[k].name+")", r)
}

func (d *cudaDevice) memInfo() (free, total uint64, err error) {
	var f, t uintptr
	if err := d.drv.check("cuMemGetInfo_v2", d.drv.cuMemGetInfo(&f, &t)); err != nil {
		return 0, 0, err
	}
	return uint64(f), uint64(t), nil
}

// close releases the cuBLAS handle, the kernels and the context reference,
// whatever of them was acquired, and reports every failure.
func (d *cudaDevice) close() error {
	var errs []error
	if d.handle != 0 {
		errs = append(errs, cublasError("cublasDestroy_v2", d.blas.destroy(d.handle)))
		d.handle = 0
	}
	if d.module != 0 {
		errs = append(errs, d.drv.check("cuModuleUnload", d.drv.cuModuleUnload(d.module)))
		d.module = 0
	}
	if d.ctx != 0 {
		errs = append(errs, d.drv.check("cuDevicePrimaryCtxRelease", d.drv.cuDevicePrimaryCtxRelease(d.ordinal)))
		d.ctx = 0
	}
	return errors.Join(errs...)
}
