package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeMachine is a directory tree standing in for a machine's file system,
// with a dlopen that loads only the paths it is told to.
type fakeMachine struct {
	root     string
	env      map[string]string
	loadable map[string]bool // paths (or bare sonames) dlopen accepts
	opened   []string        // every dlopen, in order
}

func newFakeMachine(t *testing.T) *fakeMachine {
	return &fakeMachine{root: t.TempDir(), env: map[string]string{}, loadable: map[string]bool{}}
}

// file creates an empty file at the path below the root and returns its full path.
func (f *fakeMachine) file(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fakeMachine) searcher() *searcher {
	return &searcher{
		getenv: func(k string) string { return f.env[k] },
		glob:   filepath.Glob,
		exists: func(p string) bool { _, err := os.Stat(p); return err == nil },
		open: func(p string) (uintptr, error) {
			f.opened = append(f.opened, p)
			if f.loadable[p] {
				return 1, nil
			}
			return 0, fmt.Errorf("%s: cannot open shared object file: No such file or directory", p)
		},
		system:   []string{"$CUDA_HOME/lib64", filepath.Join(f.root, "usr/local/cuda/lib64")},
		prefixes: []string{"$VIRTUAL_ENV", filepath.Join(f.root, "opt/*/.venv")},
	}
}

func TestCublasNamesFollowTheDriver(t *testing.T) {
	for _, c := range []struct {
		driver int32
		want   []string
	}{
		{13000, []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}},
		{12040, []string{"libcublas.so.12", "libcublas.so.11"}},
		{11080, []string{"libcublas.so.11"}},
		{14010, []string{"libcublas.so.14", "libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}},
		{10020, nil},
	} {
		lib := cublasLibrary(c.driver)
		if !slices.Equal(lib.names, c.want) {
			t.Errorf("driver %d: cuBLAS names %v, want %v", c.driver, lib.names, c.want)
		}
		for _, n := range lib.names {
			if lt := lib.companions[n]; lt != strings.Replace(n, "libcublas", "libcublasLt", 1) {
				t.Errorf("driver %d: %s's companion is %q", c.driver, n, lt)
			}
		}
	}
	if _, err := loadCublas(newFakeMachine(t).searcher(), 10020); err == nil || !strings.Contains(err.Error(), "11.8") {
		t.Errorf("a CUDA 10.2 driver: %v; want an error naming the minimum", err)
	}
}

// TestSearchOrder: the loader's own path first, then GRADMESH_CUDA_LIBS,
// then system CUDA directories, then Python wheels, each library with its
// companion loaded first from the same directory.
func TestSearchOrder(t *testing.T) {
	f := newFakeMachine(t)
	envA, envB := filepath.Join(f.root, "envA"), filepath.Join(f.root, "envB")
	f.env[LibsEnv] = envA + "::" + envB + ":" + envA // empty and repeated entries are ignored
	f.env["CUDA_HOME"] = filepath.Join(f.root, "cuda-12.4")
	f.env["VIRTUAL_ENV"] = filepath.Join(f.root, "venv")
	inEnvB := f.file(t, "envB/libcublas.so.12")
	f.file(t, "envB/libcublasLt.so.12")
	inHome := f.file(t, "cuda-12.4/lib64/libcublas.so.12")
	inWheel12 := f.file(t, "venv/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12")
	inWheel13 := f.file(t, "opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13")
	s := f.searcher()

	want := []string{envA, envB, filepath.Join(f.root, "cuda-12.4/lib64"), filepath.Join(f.root, "usr/local/cuda/lib64"),
		filepath.Dir(inWheel12), filepath.Dir(inWheel13)}
	if got := s.searchDirs(); !slices.Equal(got, want) {
		t.Fatalf("search directories\n got %v\nwant %v", got, want)
	}

	lib := cublasLibrary(13000)
	// Nothing loads: every attempt is in the error, in order.
	_, _, err := s.load(lib)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("load = %v, want a *LoadError", err)
	}
	var tried []string
	for _, a := range le.Tried {
		tried = append(tried, a.path)
	}
	wantTried := []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11",
		filepath.Join(envB, "libcublasLt.so.12"), // the companion failed, so libcublas itself was not tried
		filepath.Join(filepath.Dir(inHome), "libcublasLt.so.12"),
		filepath.Join(filepath.Dir(inWheel12), "libcublasLt.so.12"),
		filepath.Join(filepath.Dir(inWheel13), "libcublasLt.so.13")}
	if !slices.Equal(tried, wantTried) {
		t.Fatalf("tried\n got %v\nwant %v", tried, wantTried)
	}
	if !slices.Equal(le.Searched, []string{envA, filepath.Join(f.root, "usr/local/cuda/lib64")}) {
		t.Fatalf("directories without a candidate: %v", le.Searched)
	}
	msg := err.Error()
	for _, p := range append(wantTried, envA, "cannot open shared object file", LibsEnv) {
		if !strings.Contains(msg, p) {
			t.Errorf("error does not mention %q:\n%s", p, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines; a log wants one:\n%s", msg)
	}

	// envB's pair loads: companion first, and the search stops there.
	f.loadable[filepath.Join(envB, "libcublasLt.so.12")] = true
	f.loadable[inEnvB] = true
	f.opened = nil
	_, path, err := s.load(lib)
	if err != nil || path != inEnvB {
		t.Fatalf("load = %q, %v; want %s", path, err, inEnvB)
	}
	if n := len(f.opened); n < 2 || f.opened[n-2] != filepath.Join(envB, "libcublasLt.so.12") || f.opened[n-1] != inEnvB {
		t.Fatalf("dlopen order %v: want libcublasLt, then libcublas", f.opened)
	}

	// A library the loader finds by soname wins over every directory.
	f.loadable["libcublas.so.12"] = true
	if _, path, err := s.load(lib); err != nil || path != "libcublas.so.12" {
		t.Fatalf("load = %q, %v; want the loader's libcublas.so.12", path, err)
	}
}

func TestLoadErrorForTheDriverSaysWhatToDo(t *testing.T) {
	f := newFakeMachine(t)
	_, err := loadDriver(f.searcher())
	if err == nil {
		t.Fatal("loaded a driver from an empty machine")
	}
	for _, want := range []string{"the CUDA driver", "libcuda.so.1", "install the NVIDIA driver", LibsEnv} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

func TestPythonPrefixesCoverCommonInstalls(t *testing.T) {
	p := pythonPrefixes("/home/u")
	for _, want := range []string{"$VIRTUAL_ENV", "$CONDA_PREFIX", "/opt/*/.venv", "/usr/local", "/home/u/.local", "/home/u/.pyenv/versions/*"} {
		if !slices.Contains(p, want) {
			t.Errorf("python prefixes %v lack %s", p, want)
		}
	}
}
