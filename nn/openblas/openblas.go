// Package openblas computes gradmesh's float32 matrix products with
// OpenBLAS, loaded at run time with purego as the CUDA backend loads cuBLAS:
// the build needs neither cgo nor OpenBLAS, and a machine without the
// library trains on gonum's pure-Go SGEMM instead. Select makes the choice
// every command starts with (GRADMESH_BLAS forces one).
package openblas

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"gonum.org/v1/gonum/blas"
)

// Library is a loaded OpenBLAS. It implements nn.SGEMM and nn.Threaded.
// Its methods may be called from many goroutines at once: OpenBLAS
// serialises its own thread pool between callers.
type Library struct {
	path    string // what was opened: a soname or a file
	version string // "0.3.21"
	core    string // the kernels OpenBLAS chose: "Haswell", "SkylakeX"
	config  string // openblas_get_config, whole

	// coretypeSet is the OPENBLAS_CORETYPE gradmesh set before loading
	// the library, "" if it set none.
	coretypeSet string

	// sgemm is the address of BLAS's Fortran-interface sgemm_, called
	// through purego.SyscallN: every argument is a pointer, so no float
	// travels in a register and the call needs none of the reflection that
	// purego.RegisterFunc uses (1 µs and 12 allocations a call, against 0.3
	// µs and 2 for the whole of a 1×1×1 product this way). cblas_sgemm is a
	// row-major wrapper around the same driver.
	sgemm uintptr

	// With OpenBLAS's cblas.h signatures; C ints are int32 (Debian's
	// libopenblas0 is the LP64 build; the 64-bit-index one is another
	// soname with other symbol names).
	setNumThreads func(n int32)
	getNumThreads func() int32
	getConfig     func() string
	getCorename   func() string
}

// sonames are the names OpenBLAS installs under, the usual first: Debian,
// Ubuntu, Arch and Alpine's libopenblas.so.0, the unversioned development
// link, Fedora's pthreads build (libopenblasp), Homebrew's dylib.
func sonames() []string {
	if runtime.GOOS == "darwin" {
		return []string{"libopenblas.0.dylib", "libopenblas.dylib",
			"/opt/homebrew/opt/openblas/lib/libopenblas.dylib", "/usr/local/opt/openblas/lib/libopenblas.dylib"}
	}
	return []string{"libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0"}
}

// loaded caches the library: it is never unloaded (its threads outlive any
// caller), and a later Load returns it. A failure is not cached: a later
// Load may name another file.
var loaded struct {
	sync.Mutex
	lib *Library
}

// Load opens OpenBLAS, trying each usual soname through the dynamic
// loader's search (LD_LIBRARY_PATH, the ld.so cache) or, when path is not
// empty, that file only. Before the first load it may set
// OPENBLAS_CORETYPE (see setCoretype). The error says what was tried, or
// which symbol the library lacks.
func Load(path string) (*Library, error) {
	loaded.Lock()
	defer loaded.Unlock()
	if l := loaded.lib; l != nil {
		if path != "" && path != l.path {
			return nil, fmt.Errorf("openblas: %s is loaded already; cannot load %s as well", l.path, path)
		}
		return l, nil
	}
	names := sonames()
	if path != "" {
		names = []string{path}
	}
	core := setCoretype()
	lib, err := open(names)
	if err != nil {
		return nil, err
	}
	lib.coretypeSet = core
	loaded.lib = lib
	return lib, nil
}

// open loads the first of names that dlopen accepts and binds it.
func open(names []string) (*Library, error) {
	e := &NotFoundError{}
	for _, name := range names {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil {
			reason := strings.Join(strings.Fields(err.Error()), " ")
			e.Tried = append(e.Tried, Attempt{Name: name, Reason: strings.TrimPrefix(reason, name+": ")})
			continue
		}
		return bind(h, name)
	}
	return nil, e
}

// Attempt is one name dlopen refused, and its reason.
type Attempt struct{ Name, Reason string }

// NotFoundError says that no OpenBLAS could be opened, and why for each
// name tried.
type NotFoundError struct{ Tried []Attempt }

// Error lists the names tried, those refused for one reason together:
// "openblas: libopenblas.so.0, libopenblas.so: cannot open shared object
// file: No such file or directory".
func (e *NotFoundError) Error() string {
	var parts []string
	for i := 0; i < len(e.Tried); {
		j, names := i, []string(nil)
		for ; j < len(e.Tried) && e.Tried[j].Reason == e.Tried[i].Reason; j++ {
			names = append(names, e.Tried[j].Name)
		}
		parts = append(parts, strings.Join(names, ", ")+": "+e.Tried[i].Reason)
		i = j
	}
	return "openblas: " + strings.Join(parts, "; ")
}

// bind resolves every symbol before binding any, so a library that lacks
// one (another BLAS under OpenBLAS's name, an ancient release) is refused
// whole and nothing is ever called through a half-bound Library.
func bind(handle uintptr, path string) (*Library, error) {
	l := &Library{path: path}
	syms := []struct {
		name string
		fn   any
	}{
		{"sgemm_", nil},
		{"openblas_set_num_threads", &l.setNumThreads},
		{"openblas_get_num_threads", &l.getNumThreads},
		{"openblas_get_config", &l.getConfig},
		{"openblas_get_corename", &l.getCorename},
	}
	addrs := make([]uintptr, len(syms))
	var missing []string
	for i, s := range syms {
		if a, err := purego.Dlsym(handle, s.name); err == nil && a != 0 {
			addrs[i] = a
		} else {
			missing = append(missing, s.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("openblas: %s lacks %s: not OpenBLAS, or too old", path, strings.Join(missing, ", "))
	}
	l.sgemm = addrs[0]
	for i, s := range syms[1:] {
		purego.RegisterFunc(s.fn, addrs[i+1])
	}
	l.config = l.getConfig()
	l.core = l.getCorename()
	if f := strings.Fields(l.config); len(f) >= 2 && f[0] == "OpenBLAS" {
		l.version = f[1]
	}
	return l, nil
}

// Path is the soname or file the library was loaded from.
func (l *Library) Path() string { return l.path }

// Version is OpenBLAS's release ("0.3.21"), or "" if its configuration
// string does not say.
func (l *Library) Version() string { return l.version }

// Core names the kernels OpenBLAS runs on this CPU ("Haswell", "SkylakeX").
func (l *Library) Core() string { return l.core }

// Config is OpenBLAS's build configuration (openblas_get_config).
func (l *Library) Config() string { return l.config }

// Name implements nn.SGEMM: "OpenBLAS 0.3.21 (SkylakeX, 2 threads)".
func (l *Library) Name() string {
	name := "OpenBLAS"
	if l.version != "" {
		name += " " + l.version
	}
	n := l.Threads()
	plural := "s"
	if n == 1 {
		plural = ""
	}
	return fmt.Sprintf("%s (%s, %d thread%s)", name, l.core, n, plural)
}

// Threads implements nn.Threaded.
func (l *Library) Threads() int { return int(l.getNumThreads()) }

// SetThreads implements nn.Threaded.
func (l *Library) SetThreads(n int) { l.setNumThreads(int32(max(n, 1))) }

// Sgemm implements nn.SGEMM with gonum's semantics (row-major, panics on
// arguments that do not describe the slices): cblas_sgemm would read and
// write past a Go slice where gonum panics, so every argument is checked
// before any C code sees a pointer.
func (l *Library) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemm(tA, tB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		// A and B take no part and BLAS leaves them unread; with k = 0 they
		// may be empty slices, which have no first element to point to.
		scale(beta, c, m, n, ldc)
		return
	}
	// Fortran's BLAS is column-major: the row-major m×n C is, read
	// column-major, the n×m Cᵀ = op(B)ᵀ·op(A)ᵀ, so B and A swap places and
	// keep their own transposes and leading dimensions.
	p := &gemmArgs{transA: fortranOp(tB), transB: fortranOp(tA), m: int32(n), n: int32(m), k: int32(k),
		lda: int32(ldb), ldb: int32(lda), ldc: int32(ldc), alpha: alpha, beta: beta}
	purego.SyscallN(l.sgemm, uintptr(unsafe.Pointer(&p.transA)), uintptr(unsafe.Pointer(&p.transB)),
		uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.n)), uintptr(unsafe.Pointer(&p.k)),
		uintptr(unsafe.Pointer(&p.alpha)), uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&p.lda)),
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&p.ldb)),
		uintptr(unsafe.Pointer(&p.beta)), uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&p.ldc)))
	// SyscallN keeps what its arguments point to alive for the call (it is
	// go:uintptrescapes); this says so for the slices in plain Go.
	runtime.KeepAlive(p)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
}

// gemmArgs are sgemm_'s scalar arguments, which Fortran passes by
// reference; A, B and C's leading dimensions as sgemm_ numbers them.
type gemmArgs struct {
	transA, transB         byte
	m, n, k, lda, ldb, ldc int32
	alpha, beta            float32
}

func fortranOp(t blas.Transpose) byte {
	if t == blas.NoTrans {
		return 'N'
	}
	return 'T' // real matrices: ConjTrans is Trans
}

// scale computes C = beta·C on the m×n matrix c, zeroing it (NaNs
// included) when beta is 0, as BLAS does.
func scale(beta float32, c []float32, m, n, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// checkSgemm panics, as gonum's Sgemm does, unless the sizes and leading
// dimensions fit C's ints and every matrix lies inside its slice.
func checkSgemm(tA, tB blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for _, t := range []blas.Transpose{tA, tB} {
		if t != blas.NoTrans && t != blas.Trans && t != blas.ConjTrans {
			panic(fmt.Sprintf("openblas: sgemm: bad transpose %d", t))
		}
	}
	for _, v := range []int{m, n, k, lda, ldb, ldc} {
		if v < 0 || v > math.MaxInt32 {
			panic(fmt.Sprintf("openblas: sgemm: size %d outside a C int (m=%d n=%d k=%d lda=%d ldb=%d ldc=%d)", v, m, n, k, lda, ldb, ldc))
		}
	}
	rowsA, colsA := m, k
	if tA != blas.NoTrans {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if tB != blas.NoTrans {
		rowsB, colsB = n, k
	}
	checkMatrix("a", a, rowsA, colsA, lda)
	checkMatrix("b", b, rowsB, colsB, ldb)
	checkMatrix("c", c, m, n, ldc)
}

// checkMatrix panics unless a rows×cols row-major matrix with leading
// dimension ld fits in s; an empty matrix needs no storage.
func checkMatrix(name string, s []float32, rows, cols, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("openblas: sgemm: ld%s %d < max(1, %d columns)", name, ld, cols))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(s) < need {
		panic(fmt.Sprintf("openblas: sgemm: %s has %d values, a %d×%d matrix with stride %d needs %d", name, len(s), rows, cols, ld, need))
	}
}
