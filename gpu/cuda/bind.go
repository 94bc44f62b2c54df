package cuda

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// symbol binds one C function to a Go function variable. names lists
// alternatives, newest first (cuDevicePrimaryCtxRelease_v2, then the
// original), for libraries that renamed a function.
type symbol struct {
	names []string
	fn    any // pointer to a func variable
}

func sym(fn any, names ...string) symbol { return symbol{names: names, fn: fn} }

// bindSymbols resolves every symbol before binding any, so a library that
// lacks one is refused whole: no Go function variable is ever left pointing
// at nothing, and none is called on a library that failed to load.
func bindSymbols(handle uintptr, path string, syms []symbol) error {
	addrs := make([]uintptr, len(syms))
	var missing []string
	for i, s := range syms {
		for _, name := range s.names {
			if a, err := purego.Dlsym(handle, name); err == nil && a != 0 {
				addrs[i] = a
				break
			}
		}
		if addrs[i] == 0 {
			missing = append(missing, s.names[0])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("cuda: %s lacks %s: the library is too old or not the one gradmesh expects", path, strings.Join(missing, ", "))
	}
	for i, s := range syms {
		purego.RegisterFunc(s.fn, addrs[i])
	}
	return nil
}

// goString copies a NUL-terminated C string the library owns.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}
