// Package blastest runs a package's tests on the BLAS a command would pick.
package blastest

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/gradmesh/gradmesh/nn/openblas"
)

// Main runs the tests on OpenBLAS where it is installed, on gonum elsewhere
// or with GRADMESH_BLAS=gonum, so that both paths are tested. A package
// calls it from its TestMain.
func Main(m *testing.M) {
	flag.Parse()
	line, err := openblas.Select()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if testing.Verbose() {
		fmt.Println("blas:", line)
	}
	os.Exit(m.Run())
}
