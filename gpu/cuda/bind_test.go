package cuda

import (
	"strings"
	"testing"

	"github.com/ebitengine/purego"
)

func openLibc(t *testing.T) uintptr {
	t.Helper()
	h, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Skipf("no glibc to bind against: %v", err)
	}
	return h
}

// TestBindingsAreAcceptedByPurego registers every CUDA and cuBLAS signature
// against a real function address (never calling it), so a signature purego
// cannot marshal fails here instead of on the first GPU machine.
func TestBindingsAreAcceptedByPurego(t *testing.T) {
	addr, err := purego.Dlsym(openLibc(t), "abs")
	if err != nil {
		t.Fatal(err)
	}
	var syms []symbol
	syms = append(syms, (&driverAPI{}).symbols()...)
	syms = append(syms, (&cublasAPI{}).symbols()...)
	for _, s := range syms {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("purego refuses the Go signature of %s: %v", s.names[0], r)
				}
			}()
			purego.RegisterFunc(s.fn, addr)
		}()
	}
}

func TestBindSymbolsRefusesALibraryMissingOne(t *testing.T) {
	libc := openLibc(t)
	var abs, missing func(int32) int32
	err := bindSymbols(libc, "libc.so.6", []symbol{sym(&abs, "abs"), sym(&missing, "gm_no_such_function")})
	if err == nil || !strings.Contains(err.Error(), "gm_no_such_function") || !strings.Contains(err.Error(), "libc.so.6") {
		t.Fatalf("bindSymbols = %v; want an error naming the library and the missing symbol", err)
	}
	if abs != nil || missing != nil {
		t.Fatal("a refused library left a function bound")
	}
	// An alternative name stands in for a missing one, and the binding works.
	if err := bindSymbols(libc, "libc.so.6", []symbol{sym(&abs, "gm_no_such_function", "abs")}); err != nil {
		t.Fatal(err)
	}
	if abs(-7) != 7 {
		t.Fatal("the bound abs does not compute abs")
	}
}
