package openblas

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/cpu"

	"github.com/gradmesh/gradmesh/nn"
)

// Env names the environment variable that picks the float32 BLAS: unset or
// "auto" loads OpenBLAS when it is installed and falls back to gonum;
// "gonum" never loads OpenBLAS; "openblas" requires it; a value with a "/"
// is an OpenBLAS library file to load, required too.
const Env = "GRADMESH_BLAS"

// Select installs the BLAS that GRADMESH_BLAS asks for with nn.Use and
// returns one line for the log that says which, and why when it is gonum.
// It fails only when OpenBLAS is required and does not load, or when the
// variable holds something else; then it installs nothing.
func Select() (string, error) {
	return choose(os.Getenv(Env), Load)
}

// choose is Select with the variable's value and the loader as arguments.
func choose(value string, load func(path string) (*Library, error)) (string, error) {
	const gonum = "gonum (pure Go)"
	v := strings.TrimSpace(value)
	var path string
	switch {
	case v == "gonum":
		nn.Use(nn.Gonum())
		return gonum + ": " + Env + "=gonum", nil
	case v == "" || v == "auto" || v == "openblas":
	case strings.Contains(v, "/"):
		path = v
	default:
		return "", fmt.Errorf("%s=%q: want auto, gonum, openblas or the path of an OpenBLAS library", Env, value)
	}
	lib, err := load(path)
	switch {
	case err != nil && (v == "" || v == "auto"):
		nn.Use(nn.Gonum())
		return gonum + ": " + strings.TrimPrefix(err.Error(), "openblas: "), nil
	case err != nil:
		return "", fmt.Errorf("%s=%s: %w", Env, v, err)
	}
	nn.Use(lib)
	line := lib.Name()
	if lib.coretypeSet != "" {
		line += fmt.Sprintf("; %s=%s set for this CPU", coretypeEnv, lib.coretypeSet)
	}
	return line, nil
}

// coretypeEnv is OpenBLAS's own variable naming the kernels to run.
const coretypeEnv = "OPENBLAS_CORETYPE"

// setCoretype names the kernels OpenBLAS should run, unless the user did,
// and returns the name it set, or "". A release older than its CPU does not
// recognise it and falls back to its slowest x86-64 kernels: Debian 12's
// 0.3.21 runs Prescott's SSE3 kernels on a 2023 Xeon, at a quarter of the
// SGEMM rate of its SkylakeX ones. The library reads the variable once, as
// it loads, so it is set before the first dlopen, from the CPU's features:
// the AVX-512 subsets of Skylake-X name SkylakeX, AVX2 with FMA names
// Haswell (OpenBLAS's own choice for later AVX2 cores uses the same SGEMM
// kernels); anything else is left to OpenBLAS.
func setCoretype() string {
	if runtime.GOARCH != "amd64" || os.Getenv(coretypeEnv) != "" {
		return ""
	}
	x := cpu.X86
	core := coretypeFor(x86Features{
		avx512: x.HasAVX512F && x.HasAVX512CD && x.HasAVX512BW && x.HasAVX512DQ && x.HasAVX512VL,
		avx2:   x.HasAVX2 && x.HasFMA,
	})
	// os.Setenv reaches the C environment the library reads, with cgo and
	// without (purego's runtime support forwards it to libc's setenv).
	if core == "" || os.Setenv(coretypeEnv, core) != nil {
		return ""
	}
	return core
}

// x86Features are the CPU features the choice of kernels depends on.
type x86Features struct {
	avx512 bool // F, CD, BW, DQ and VL: what OpenBLAS's SkylakeX kernels use
	avx2   bool // AVX2 and FMA: Haswell's
}

// coretypeFor maps features to an OPENBLAS_CORETYPE value, or "" to leave
// the choice to OpenBLAS.
func coretypeFor(f x86Features) string {
	switch {
	case f.avx512:
		return "SkylakeX"
	case f.avx2:
		return "Haswell"
	}
	return ""
}
