package nn_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/gradmesh/gradmesh/nn/openblas"
)

// TestMain runs the package's tests on the BLAS a command would pick:
// OpenBLAS where it is installed, gonum elsewhere or with
// GRADMESH_BLAS=gonum, so both paths are tested.
func TestMain(m *testing.M) {
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
