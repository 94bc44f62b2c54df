package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ebitengine/purego"
)

// LibsEnv names the environment variable that lists extra directories, colon
// separated, to search for the CUDA libraries.
const LibsEnv = "GRADMESH_CUDA_LIBS"

// library is one shared library to find: its sonames in order of preference,
// and for each soname a companion that must be loaded first from the same
// directory (libcublas needs libcublasLt, which the dynamic loader would not
// find in a Python wheel's directory on its own).
type library struct {
	what       string            // for messages: "the CUDA driver", "cuBLAS"
	names      []string          // sonames, preferred first
	companions map[string]string // soname -> soname to preload from the same directory
	hint       string            // what to do when nothing loads
}

// searcher finds and opens libraries. Its fields are the outside world, so
// tests can lay out fake directories and a fake dlopen.
type searcher struct {
	getenv   func(string) string
	glob     func(pattern string) ([]string, error)
	exists   func(path string) bool
	open     func(path string) (uintptr, error)
	system   []string // CUDA toolkit and driver directories off the loader's path
	prefixes []string // Python installation prefixes to look under; globs and $VARS allowed
}

// systemSearcher searches the real machine with dlopen.
func systemSearcher() *searcher {
	home, _ := os.UserHomeDir()
	return &searcher{
		getenv: os.Getenv,
		glob:   filepath.Glob,
		exists: func(p string) bool { _, err := os.Stat(p); return err == nil },
		open: func(p string) (uintptr, error) {
			return purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		},
		system:   systemDirs(),
		prefixes: pythonPrefixes(home),
	}
}

// pythonPrefixes are the usual places a Python with PyTorch's nvidia-* wheels
// lives: virtual environments and conda first, then user and system installs.
func pythonPrefixes(home string) []string {
	p := []string{
		"$VIRTUAL_ENV", "$CONDA_PREFIX",
		"/opt/*/.venv", "/opt/*/venv", "/opt/conda", "/opt/miniconda3", "/opt/miniforge3", "/opt/anaconda3",
		"/usr/local", "/usr",
	}
	if home != "" {
		p = append(p,
			filepath.Join(home, ".venv"), filepath.Join(home, "venv"), filepath.Join(home, ".local"),
			filepath.Join(home, "miniconda3"), filepath.Join(home, "miniforge3"), filepath.Join(home, "anaconda3"),
			filepath.Join(home, ".pyenv/versions/*"))
	}
	return p
}

// systemDirs are where CUDA toolkits and drivers install outside the loader's
// default path: CUDA_HOME/CUDA_PATH, /usr/local/cuda, container driver
// mounts, Debian's driver directory and WSL.
func systemDirs() []string {
	dirs := []string{"$CUDA_HOME/lib64", "$CUDA_PATH/lib64", "/usr/local/cuda/lib64"}
	if target, ok := map[string]string{"amd64": "x86_64-linux", "arm64": "sbsa-linux"}[runtime.GOARCH]; ok {
		dirs = append(dirs, "/usr/local/cuda/targets/"+target+"/lib")
	}
	return append(dirs, "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib",
		"/usr/lib/x86_64-linux-gnu/nvidia/current", "/usr/lib/wsl/lib", "/opt/cuda/lib64")
}

// expand replaces a leading $VAR with its value; ok is false when the
// variable is unset.
func (s *searcher) expand(path string) (string, bool) {
	if !strings.HasPrefix(path, "$") {
		return path, true
	}
	name, rest, _ := strings.Cut(path[1:], "/")
	v := s.getenv(name)
	if v == "" {
		return "", false
	}
	if rest == "" {
		return v, true
	}
	return filepath.Join(v, rest), true
}

// pythonDirs are the lib directories of installed nvidia-* wheels:
// nvidia/cublas/lib for CUDA 12 wheels, nvidia/cu13/lib for CUDA 13 ones.
func (s *searcher) pythonDirs() []string {
	var roots []string
	for _, dir := range filepath.SplitList(s.getenv("PYTHONPATH")) {
		if dir != "" {
			roots = append(roots, dir)
		}
	}
	for _, prefix := range s.prefixes {
		prefix, ok := s.expand(prefix)
		if !ok {
			continue
		}
		for _, sub := range []string{"lib/python3*/site-packages", "lib/python3*/dist-packages", "lib64/python3*/site-packages", "lib/python3/dist-packages"} {
			matches, _ := s.glob(filepath.Join(prefix, sub))
			roots = append(roots, matches...)
		}
	}
	var dirs []string
	for _, root := range roots {
		matches, _ := s.glob(filepath.Join(root, "nvidia/*/lib"))
		dirs = append(dirs, matches...)
	}
	return dirs
}

// searchDirs lists, in order and without repeats, the directories searched
// after the dynamic loader's own path: GRADMESH_CUDA_LIBS, then system CUDA
// locations, then Python site-packages.
func (s *searcher) searchDirs() []string {
	var dirs []string
	for _, d := range strings.Split(s.getenv(LibsEnv), ":") {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	for _, d := range s.system {
		if d, ok := s.expand(d); ok {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, s.pythonDirs()...)
	seen := map[string]bool{}
	out := dirs[:0]
	for _, d := range dirs {
		d = filepath.Clean(d)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// attempt is one dlopen that failed.
type attempt struct{ path, reason string }

// LoadError says that a library could not be loaded, listing every path tried
// and why each failed, and the directories that held no candidate at all.
type LoadError struct {
	What     string   // "the CUDA driver", "cuBLAS"
	Names    []string // sonames looked for
	Tried    []attempt
	Searched []string // directories that held none of Names
	Hint     string
}

func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cuda: cannot load %s (%s): tried", e.What, strings.Join(e.Names, ", "))
	for i, a := range e.Tried {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s (%s)", a.path, a.reason)
	}
	if len(e.Searched) > 0 {
		fmt.Fprintf(&b, "; none of them in %s", strings.Join(e.Searched, ", "))
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

// load opens lib: each soname through the dynamic loader's own search
// (LD_LIBRARY_PATH, the ld.so cache, the default directories), then each
// search directory that holds it. It returns the handle and the path that
// loaded.
func (s *searcher) load(lib library) (uintptr, string, error) {
	e := &LoadError{What: lib.what, Names: lib.names, Hint: lib.hint}
	try := func(dir, name string) (uintptr, bool) {
		path := name
		if dir != "" {
			path = filepath.Join(dir, name)
		}
		// Through the loader's path, a companion is found the same way as
		// the library itself; from a directory it must be loaded first.
		if companion := lib.companions[name]; companion != "" && dir != "" {
			cpath := filepath.Join(dir, companion)
			if _, err := s.open(cpath); err != nil {
				e.Tried = append(e.Tried, attempt{cpath, reason(cpath, err)})
				return 0, false
			}
		}
		h, err := s.open(path)
		if err != nil {
			e.Tried = append(e.Tried, attempt{path, reason(path, err)})
			return 0, false
		}
		return h, true
	}
	for _, name := range lib.names {
		if h, ok := try("", name); ok {
			return h, name, nil
		}
	}
	for _, dir := range s.searchDirs() {
		found := false
		for _, name := range lib.names {
			if !s.exists(filepath.Join(dir, name)) {
				continue
			}
			found = true
			if h, ok := try(dir, name); ok {
				return h, filepath.Join(dir, name), nil
			}
		}
		if !found {
			e.Searched = append(e.Searched, dir)
		}
	}
	return 0, "", e
}

// reason shortens a dlopen error to one line without the path it names.
func reason(path string, err error) string {
	r := strings.Join(strings.Fields(err.Error()), " ")
	return strings.TrimPrefix(r, path+": ")
}
