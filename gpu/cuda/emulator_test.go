package cuda

import (
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// emuDevice emulates a GPU in host memory so the CUDA MLP's host code (buffer
// sizes, offsets, the row-major GEMM arguments, kernel arguments, error
// paths) runs in every test, GPU or not. It is strict where a GPU is
// unforgiving: every access must lie inside a live allocation, fresh memory
// is NaN garbage (so reading what was never written shows), cuBLAS's argument
// rules are enforced, and every operation must happen between enter and
// leave. Its kernels transcribe kernels.cu line by line; a test compiles the
// real kernels.cu for the host and holds the two to the same results.
type emuDevice struct {
	allocs  map[devicePtr][]uint64 // base -> backing (8-byte aligned)
	sizes   map[devicePtr]int      // base -> bytes asked for
	next    devicePtr
	entered bool
	closed  bool

	ops      int    // operations so far
	failAt   int    // the operation from which on all fail (CUDA errors are sticky), 1-based; 0: none
	failCall string // the first operation that failed
	counts   map[string]int
}

func newEmuDevice() *emuDevice {
	return &emuDevice{allocs: map[devicePtr][]uint64{}, sizes: map[devicePtr]int{}, next: 0x7f0000000000, counts: map[string]int{}}
}

// step counts an operation and injects the planned failure.
func (e *emuDevice) step(call string) error {
	if !e.entered {
		return fmt.Errorf("emulator: %s outside enter/leave", call)
	}
	if e.closed {
		return fmt.Errorf("emulator: %s after close", call)
	}
	e.ops++
	e.counts[call]++
	if e.failAt != 0 && e.ops >= e.failAt {
		if e.failCall == "" {
			e.failCall = call
		}
		return &Error{Call: call, Status: 700, Name: "CUDA_ERROR_ILLEGAL_ADDRESS", Detail: "injected by the emulator"}
	}
	return nil
}

func (e *emuDevice) enter() (func(), error) {
	if e.entered {
		return nil, fmt.Errorf("emulator: entered twice")
	}
	e.entered = true
	return func() { e.entered = false }, nil
}

func (e *emuDevice) alloc(n int) (devicePtr, error) {
	if err := e.step("alloc"); err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("emulator: alloc of %d bytes", n)
	}
	words := make([]uint64, (n+7)/8)
	for i := range words {
		words[i] = math.MaxUint64 // NaN as float32 and float64, -1 as int32
	}
	p := e.next
	e.allocs[p], e.sizes[p] = words, n
	e.next += devicePtr((n+255)/256*256 + 4096) // a gap, so overruns never land in a neighbour
	return p, nil
}

func (e *emuDevice) free(p devicePtr) error {
	if err := e.step("free"); err != nil {
		return err
	}
	if _, ok := e.allocs[p]; !ok {
		return fmt.Errorf("emulator: free of %#x, which is not a live allocation", p)
	}
	delete(e.allocs, p)
	delete(e.sizes, p)
	return nil
}

// mem returns the n bytes at p, which must lie inside one live allocation.
func (e *emuDevice) mem(p devicePtr, n int) ([]byte, error) {
	for base, words := range e.allocs {
		if p >= base && int(p-base)+n <= e.sizes[base] {
			all := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
			return all[p-base : int(p-base)+n], nil
		}
	}
	return nil, fmt.Errorf("emulator: access to %d bytes at %#x outside every allocation", n, p)
}

func view[T float32 | float64 | int32](e *emuDevice, p devicePtr, n int) ([]T, error) {
	var zero T
	b, err := e.mem(p, n*int(unsafe.Sizeof(zero)))
	if err != nil || n == 0 {
		return nil, err
	}
	if uintptr(unsafe.Pointer(&b[0]))%unsafe.Sizeof(zero) != 0 {
		return nil, fmt.Errorf("emulator: misaligned access at %#x", p)
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n), nil
}

func (e *emuDevice) upload(dst devicePtr, src []byte) error {
	if err := e.step("upload"); err != nil {
		return err
	}
	b, err := e.mem(dst, len(src))
	if err != nil {
		return err
	}
	copy(b, src)
	return nil
}

func (e *emuDevice) download(dst []byte, src devicePtr) error {
	if err := e.step("download"); err != nil {
		return err
	}
	b, err := e.mem(src, len(dst))
	if err != nil {
		return err
	}
	copy(dst, b)
	return nil
}

// sgemm follows cuBLAS's column-major definition and argument checks.
func (e *emuDevice) sgemm(transA, transB bool, m, n, k int, alpha float32, a devicePtr, lda int, b devicePtr, ldb int, beta float32, c devicePtr, ldc int) error {
	if err := e.step("sgemm"); err != nil {
		return err
	}
	rowsA, rowsB := m, k // rows of A and B as stored, column-major
	colsA, colsB := k, n
	if transA {
		rowsA, colsA = k, m
	}
	if transB {
		rowsB, colsB = n, k
	}
	if m < 0 || n < 0 || k < 0 || lda < max(1, rowsA) || ldb < max(1, rowsB) || ldc < max(1, m) {
		return &Error{Call: "cublasSgemm_v2", Status: 7, Name: "CUBLAS_STATUS_INVALID_VALUE",
			Detail: fmt.Sprintf("m=%d n=%d k=%d lda=%d ldb=%d ldc=%d transA=%v transB=%v", m, n, k, lda, ldb, ldc, transA, transB)}
	}
	if m == 0 || n == 0 {
		return nil
	}
	span := func(rows, cols, ld int) int { return (cols-1)*ld + rows }
	A, err := view[float32](e, a, span(rowsA, colsA, lda))
	if err != nil {
		return err
	}
	B, err := view[float32](e, b, span(rowsB, colsB, ldb))
	if err != nil {
		return err
	}
	C, err := view[float32](e, c, span(m, n, ldc))
	if err != nil {
		return err
	}
	opA := func(i, p int) float32 {
		if transA {
			return A[p+i*lda]
		}
		return A[i+p*lda]
	}
	opB := func(p, j int) float32 {
		if transB {
			return B[j+p*ldb]
		}
		return B[p+j*ldb]
	}
	for j := range n {
		for i := range m {
			var sum float32
			for p := range k {
				sum += opA(i, p) * opB(p, j)
			}
			v := alpha * sum
			if beta != 0 { // with beta 0, C is output only: its garbage must not leak in
				v += beta * C[i+j*ldc]
			}
			C[i+j*ldc] = v
		}
	}
	return nil
}

func (e *emuDevice) launch(k kernelID, items int, args ...kernelArg) error {
	if err := e.step(kernelSpecs[k].name); err != nil {
		return err
	}
	if err := checkArgs(k, args); err != nil {
		return err
	}
	if items < 1 {
		return fmt.Errorf("emulator: %s launched over %d items", kernelSpecs[k].name, items)
	}
	ptr := func(i int) devicePtr { return devicePtr(args[i].bits) }
	num := func(i int) int { return int(int32(uint32(args[i].bits))) }
	flt := func(i int) float32 { return math.Float32frombits(uint32(args[i].bits)) }
	switch k {
	case kernelBiasAct:
		return emuBiasAct(e, ptr(0), ptr(1), num(2), num(3), num(4))
	case kernelReluBackward:
		return emuReluBackward(e, ptr(0), ptr(1), num(2))
	case kernelSoftmaxXent:
		return emuSoftmaxXent(e, ptr(0), ptr(1), num(2), num(3), flt(4), ptr(5), ptr(6))
	case kernelXentEval:
		return emuXentEval(e, ptr(0), ptr(1), num(2), num(3), ptr(4), ptr(5))
	case kernelColSum:
		return emuColSum(e, ptr(0), num(1), num(2), ptr(3))
	}
	return fmt.Errorf("emulator: no kernel %d", k)
}

func (e *emuDevice) memInfo() (free, total uint64, err error) {
	total = 1 << 34
	used := 0
	for _, n := range e.sizes {
		used += n
	}
	return total - uint64(used), total, nil
}

func (e *emuDevice) close() error {
	if e.closed {
		return fmt.Errorf("emulator: closed twice")
	}
	e.closed = true
	// After a failure, memory whose free failed is lost to the emulator as it
	// is to the driver until the context goes.
	if len(e.allocs) > 0 && e.failCall == "" {
		return fmt.Errorf("emulator: closed with %d allocations still live", len(e.allocs))
	}
	return nil
}

func (e *emuDevice) liveAllocations() []devicePtr {
	var ps []devicePtr
	for p := range e.allocs {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// The kernels, transcribed from kernels.cu.

func emuBiasAct(e *emuDevice, outP, biasP devicePtr, rows, cols, relu int) error {
	out, err1 := view[float32](e, outP, rows*cols)
	bias, err2 := view[float32](e, biasP, cols)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("gm_bias_act: %v %v", err1, err2)
	}
	for i := range out {
		v := out[i] + bias[i%cols]
		if relu != 0 && v < 0 {
			v = 0
		}
		out[i] = v
	}
	return nil
}

func emuReluBackward(e *emuDevice, deltaP, actP devicePtr, n int) error {
	delta, err1 := view[float32](e, deltaP, n)
	act, err2 := view[float32](e, actP, n)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("gm_relu_backward: %v %v", err1, err2)
	}
	for i := range delta {
		if act[i] <= 0 {
			delta[i] = 0
		}
	}
	return nil
}

func emuSoftmaxXent(e *emuDevice, logitsP, labelsP devicePtr, rows, cols int, scale float32, deltaP, lossP devicePtr) error {
	logits, err1 := view[float32](e, logitsP, rows*cols)
	labels, err2 := view[int32](e, labelsP, rows)
	delta, err3 := view[float32](e, deltaP, rows*cols)
	loss, err4 := view[float64](e, lossP, rows)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return fmt.Errorf("gm_softmax_xent: %v %v %v %v", err1, err2, err3, err4)
	}
	for r := range rows {
		z, d, label := logits[r*cols:(r+1)*cols], delta[r*cols:(r+1)*cols], int(labels[r])
		if label < 0 || label >= cols {
			clear(d)
			loss[r] = math.NaN()
			continue
		}
		m := z[0]
		for _, v := range z[1:] {
			if v > m {
				m = v
			}
		}
		var sum float64
		for _, v := range z {
			sum += math.Exp(float64(v - m))
		}
		for j, v := range z {
			p := float32(math.Exp(float64(v-m)) / sum)
			if j == label {
				p -= 1
			}
			d[j] = p * scale
		}
		loss[r] = math.Log(sum) - float64(z[label]-m)
	}
	return nil
}

func emuXentEval(e *emuDevice, logitsP, labelsP devicePtr, rows, cols int, lossP, correctP devicePtr) error {
	logits, err1 := view[float32](e, logitsP, rows*cols)
	labels, err2 := view[int32](e, labelsP, rows)
	loss, err3 := view[float64](e, lossP, rows)
	correct, err4 := view[int32](e, correctP, rows)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return fmt.Errorf("gm_xent_eval: %v %v %v %v", err1, err2, err3, err4)
	}
	for r := range rows {
		z, label := logits[r*cols:(r+1)*cols], int(labels[r])
		if label < 0 || label >= cols {
			loss[r], correct[r] = math.NaN(), 0
			continue
		}
		m, best := z[0], 0
		for j := 1; j < cols; j++ {
			if z[j] > m {
				m, best = z[j], j
			}
		}
		var sum float64
		for _, v := range z {
			sum += math.Exp(float64(v - m))
		}
		loss[r] = math.Log(sum) - float64(z[label]-m)
		correct[r] = 0
		if best == label {
			correct[r] = 1
		}
	}
	return nil
}

func emuColSum(e *emuDevice, mP devicePtr, rows, cols int, outP devicePtr) error {
	m, err1 := view[float32](e, mP, rows*cols)
	out, err2 := view[float32](e, outP, cols)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("gm_col_sum: %v %v", err1, err2)
	}
	for c := range cols {
		var s float32
		for r := range rows {
			s += m[r*cols+c]
		}
		out[c] = s
	}
	return nil
}
