package openblas

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/nn"
)

// keepBLAS restores the BLAS in use when the test ends.
func keepBLAS(t *testing.T) {
	prev := nn.BLAS()
	t.Cleanup(func() { nn.Use(prev) })
}

var errAbsent = &NotFoundError{Tried: []Attempt{
	{"libopenblas.so.0", "cannot open shared object file: No such file or directory"},
	{"libopenblas.so", "cannot open shared object file: No such file or directory"},
}}

func absent(string) (*Library, error) { return nil, errAbsent }

func TestChooseGonumNeverLoadsOpenBLAS(t *testing.T) {
	keepBLAS(t)
	line, err := choose("gonum", func(string) (*Library, error) {
		t.Fatal("GRADMESH_BLAS=gonum loaded OpenBLAS")
		return nil, nil
	})
	if err != nil || line != "gonum (pure Go): GRADMESH_BLAS=gonum" || nn.BLAS().Name() != "gonum (pure Go)" {
		t.Errorf("line %q, err %v, BLAS %q", line, err, nn.BLAS().Name())
	}
}

func TestChooseFallsBackToGonumSayingWhy(t *testing.T) {
	keepBLAS(t)
	for _, v := range []string{"", "auto", " auto "} {
		line, err := choose(v, absent)
		want := "gonum (pure Go): libopenblas.so.0, libopenblas.so: cannot open shared object file: No such file or directory"
		if err != nil || line != want {
			t.Errorf("GRADMESH_BLAS=%q: line %q, err %v; want %q", v, line, err, want)
		}
	}
}

func TestChooseFailsWhenRequiredOpenBLASDoesNotLoad(t *testing.T) {
	keepBLAS(t)
	nn.Use(nn.Gonum())
	var asked string
	record := func(path string) (*Library, error) { asked = path; return absent(path) }
	for _, c := range []struct{ value, path, want string }{
		{"openblas", "", "GRADMESH_BLAS=openblas: openblas: libopenblas.so.0"},
		{"/opt/OpenBLAS/lib/libopenblas.so", "/opt/OpenBLAS/lib/libopenblas.so", "GRADMESH_BLAS=/opt/OpenBLAS/lib/libopenblas.so: "},
		{"mkl", "", `GRADMESH_BLAS="mkl": want auto, gonum, openblas or the path`},
	} {
		asked = ""
		_, err := choose(c.value, record)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("GRADMESH_BLAS=%s: err %v, want one containing %q", c.value, err, c.want)
		}
		if asked != c.path {
			t.Errorf("GRADMESH_BLAS=%s: loaded %q, want %q", c.value, asked, c.path)
		}
		if !errors.Is(err, errAbsent) && c.value != "mkl" {
			t.Errorf("GRADMESH_BLAS=%s: err %v does not wrap the loader's", c.value, err)
		}
	}
	if nn.BLAS().Name() != "gonum (pure Go)" {
		t.Errorf("a failed Select installed %s", nn.BLAS().Name())
	}
}

func TestChooseInstallsOpenBLASWhenItLoads(t *testing.T) {
	keepBLAS(t)
	lib := library(t)
	for _, v := range []string{"", "openblas"} {
		nn.Use(nn.Gonum())
		line, err := choose(v, Load)
		if err != nil || nn.BLAS() != nn.SGEMM(lib) || !strings.HasPrefix(line, "OpenBLAS "+lib.Version()+" (") {
			t.Errorf("GRADMESH_BLAS=%q: line %q, err %v, BLAS %s", v, line, err, nn.BLAS().Name())
		}
	}
}

func TestOpenSaysWhichNamesItTried(t *testing.T) {
	_, err := open([]string{"libgradmesh-absent.so.0", "libgradmesh-absent.so"})
	var nf *NotFoundError
	if !errors.As(err, &nf) || len(nf.Tried) != 2 ||
		!strings.HasPrefix(err.Error(), "openblas: libgradmesh-absent.so.0, libgradmesh-absent.so: ") {
		t.Errorf("err %v", err)
	}
}

func TestOpenRefusesALibraryThatIsNotOpenBLAS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("libm.so.6 is glibc's")
	}
	_, err := open([]string{"libm.so.6"})
	want := "openblas: libm.so.6 lacks sgemm_, openblas_set_num_threads, openblas_get_num_threads, openblas_get_config, openblas_get_corename"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err %v, want %q", err, want)
	}
}

func TestCoretypeFollowsTheCPUsVectorUnits(t *testing.T) {
	for _, c := range []struct {
		f    x86Features
		want string
	}{
		{x86Features{avx512: true, avx2: true}, "SkylakeX"},
		{x86Features{avx2: true}, "Haswell"},
		{x86Features{}, ""},
	} {
		if got := coretypeFor(c.f); got != c.want {
			t.Errorf("%+v: %q, want %q", c.f, got, c.want)
		}
	}
}
