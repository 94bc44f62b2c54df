package cuda

import "fmt"

// cublasAPI is the part of libcublas gradmesh calls, with cublas_api.h's
// signatures: handles are pointers, enums and int arguments C ints, device
// matrices 64-bit device addresses, alpha and beta host pointers.
type cublasAPI struct {
	path string

	create      func(handle *uintptr) int32
	destroy     func(handle uintptr) int32
	setMathMode func(handle uintptr, mode int32) int32
	getProperty func(kind int32, value *int32) int32
	sgemm       func(handle uintptr, transA, transB int32, m, n, k int32, alpha *float32, a uint64, lda int32, b uint64, ldb int32, beta *float32, c uint64, ldc int32) int32
}

// cuBLAS enum values, from cublas_api.h and library_types.h.
const (
	cublasOpN         = 0
	cublasOpT         = 1
	cublasDefaultMath = 0 // plain FP32 SGEMM: no TF32, which would cost CPU/GPU agreement
	propMajorVersion  = 0
	propMinorVersion  = 1
	propPatchLevel    = 2
)

func (c *cublasAPI) symbols() []symbol {
	return []symbol{
		sym(&c.create, "cublasCreate_v2"),
		sym(&c.destroy, "cublasDestroy_v2"),
		sym(&c.setMathMode, "cublasSetMathMode"),
		sym(&c.getProperty, "cublasGetProperty"),
		sym(&c.sgemm, "cublasSgemm_v2"),
	}
}

// cublasLibrary looks for the cuBLAS majors the driver can run, newest
// first: a CUDA 12 driver cannot initialise cuBLAS 13, while a CUDA 13 one
// runs cuBLAS 12 as well. pip's CUDA 12 wheels
// hold it in nvidia/cublas/lib, the CUDA 13 ones in nvidia/cu13/lib, each
// beside the libcublasLt it needs.
func cublasLibrary(driverVersion int32) library {
	lib := library{
		what:       "cuBLAS",
		companions: map[string]string{},
		hint: "install cuBLAS (a CUDA toolkit, or pip's nvidia-cublas wheels that PyTorch brings), " +
			"or set " + LibsEnv + " to the directory holding it",
	}
	for major := driverVersion / 1000; major >= 11; major-- {
		name := fmt.Sprintf("libcublas.so.%d", major)
		lib.names = append(lib.names, name)
		lib.companions[name] = fmt.Sprintf("libcublasLt.so.%d", major)
	}
	return lib
}

func loadCublas(s *searcher, driverVersion int32) (*cublasAPI, error) {
	lib := cublasLibrary(driverVersion)
	if len(lib.names) == 0 {
		return nil, fmt.Errorf("cuda: the driver supports CUDA %s; gradmesh needs 11.8 or newer", version(driverVersion))
	}
	handle, path, err := s.load(lib)
	if err != nil {
		return nil, err
	}
	c := &cublasAPI{path: path}
	if err := bindSymbols(handle, path, c.symbols()); err != nil {
		return nil, err
	}
	return c, nil
}

// version reports the loaded cuBLAS's major.minor.patch.
func (c *cublasAPI) version() string {
	var v [3]int32
	for i, prop := range []int32{propMajorVersion, propMinorVersion, propPatchLevel} {
		if c.getProperty(prop, &v[i]) != 0 {
			return "unknown"
		}
	}
	return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
}
