package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/blas"

	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/nn/openblas"
)

// defaultShapes are square products, then the MLP's: mlp:256,128 at batch
// 64 (layer 1 forward, its weight gradient, layer 2's input gradient, the
// 10-class head) and mlp:1024,1024 at batch 256 (layer 2 forward, its
// weight gradient).
const defaultShapes = "256,512,1024,64x256x784,784x256x64:TN,64x256x128:NT,64x10x128,256x1024x1024,1024x1024x256:TN"

// shape is one product: op(A) m×k times op(B) k×n.
type shape struct {
	m, n, k int
	tA, tB  bool
}

func (s shape) String() string {
	t := ""
	if s.tA || s.tB {
		t = ":" + op(s.tA) + op(s.tB)
	}
	return fmt.Sprintf("%dx%dx%d%s", s.m, s.n, s.k, t)
}

func op(t bool) string {
	if t {
		return "T"
	}
	return "N"
}

// parseShape reads N (square), MxNxK, or either with :TT transposes
// (NN, TN, NT, TT: A's then B's).
func parseShape(s string) (shape, error) {
	dims, trans, hasTrans := strings.Cut(strings.TrimSpace(s), ":")
	var sh shape
	if hasTrans {
		if len(trans) != 2 || strings.Trim(trans, "NT") != "" {
			return sh, fmt.Errorf("shape %q: transposes %q, want two of N and T", s, trans)
		}
		sh.tA, sh.tB = trans[0] == 'T', trans[1] == 'T'
	}
	f := strings.Split(dims, "x")
	if len(f) == 1 {
		f = []string{f[0], f[0], f[0]}
	}
	if len(f) != 3 {
		return sh, fmt.Errorf("shape %q: want N or MxNxK", s)
	}
	v := make([]int, 3)
	for i, d := range f {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 {
			return sh, fmt.Errorf("shape %q: %q is not a positive size", s, d)
		}
		v[i] = n
	}
	sh.m, sh.n, sh.k = v[0], v[1], v[2]
	return sh, nil
}

func runSgemm(args []string, out io.Writer) error {
	fs := newFlags("sgemm")
	shapesFlag := fs.String("shapes", defaultShapes, "products, comma separated: N (square) or MxNxK, op(A) m×k and op(B) k×n, with :NN|TN|NT|TT for transposes")
	threadsFlag := fs.String("threads", "1,2", "thread counts, comma separated")
	seconds := fs.Float64("seconds", 1, "timed run of each measurement")
	rounds := fs.Int("rounds", 3, "times C and gradmesh are measured, alternately, per row; the best counts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 1 {
		return fmt.Errorf("-rounds %d: want ≥ 1", *rounds)
	}
	var shapes []shape
	for _, s := range strings.Split(*shapesFlag, ",") {
		sh, err := parseShape(s)
		if err != nil {
			return err
		}
		shapes = append(shapes, sh)
	}
	threads, err := intList("threads", *threadsFlag)
	if err != nil {
		return err
	}
	lib, err := openblas.Load("")
	if err != nil {
		return err
	}
	rateProgram, err := buildRateProgram(lib.Path())
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(rateProgram))
	fmt.Fprintf(out, "# SGEMM rates, GFLOP/s (2·m·n·k per product), best %.1f s chunk of %d alternating rounds\n", *seconds/10, *rounds)
	fmt.Fprintf(out, "# %s; OPENBLAS_CORETYPE=%s\n", lib.Name(), os.Getenv("OPENBLAS_CORETYPE"))
	fmt.Fprintf(out, "# %s\n", machine())
	fmt.Fprintf(out, "%-18s %7s %12s %12s %8s %10s\n", "m×n×k", "threads", "OpenBLAS C", "gradmesh", "binding", "gonum")
	for _, sh := range shapes {
		for _, t := range threads {
			var c, g float64
			for range *rounds {
				cr, err := cRate(rateProgram, sh, t, *seconds)
				if err != nil {
					return err
				}
				lib.SetThreads(t)
				c, g = max(c, cr), max(g, goRate(lib, sh, t, *seconds))
			}
			gn := goRate(nn.Gonum(), sh, t, *seconds)
			fmt.Fprintf(out, "%-18s %7d %12.1f %12.1f %7.0f%% %10.1f\n", sh, t, c, g, 100*g/c, gn)
		}
	}
	fmt.Fprintf(out, "# load average after: %s\n", loadAverage())
	return nil
}

// buildRateProgram compiles scripts/sgemm_rate.c against the library
// gradmesh loaded (a soname through the linker's search, or a file) and
// returns the program's path in a temporary directory.
func buildRateProgram(libPath string) (string, error) {
	src := filepath.Join("scripts", "sgemm_rate.c")
	if _, err := os.Stat(src); err != nil {
		return "", fmt.Errorf("%s: %w (run from the repository root)", src, err)
	}
	dir, err := os.MkdirTemp("", "cpubench")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "sgemm_rate")
	link := "-l:" + libPath
	if strings.Contains(libPath, "/") {
		link = libPath
	}
	cmd := exec.Command("gcc", "-O2", "-o", bin, src, link)
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("gcc %s %s: %v\n%s", src, link, err, msg)
	}
	return bin, nil
}

// cRate runs the C program on one product and returns its GFLOP/s.
func cRate(program string, sh shape, threads int, seconds float64) (float64, error) {
	args := []string{strconv.Itoa(sh.m), strconv.Itoa(sh.n), strconv.Itoa(sh.k), op(sh.tA), op(sh.tB),
		strconv.Itoa(threads), strconv.FormatFloat(seconds, 'f', -1, 64)}
	msg, err := exec.Command(program, args...).Output()
	if err != nil {
		return 0, fmt.Errorf("%s %s: %v", program, strings.Join(args, " "), err)
	}
	return strconv.ParseFloat(strings.TrimSpace(string(msg)), 64)
}

// goRate times one product through s, on GOMAXPROCS threads (gonum's
// goroutines) and whatever threads s was given (OpenBLAS's).
func goRate(s nn.SGEMM, sh shape, threads int, seconds float64) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	rng := rand.New(rand.NewPCG(1, 2))
	matrix := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32() - 0.5
		}
		return v
	}
	a, b, c := matrix(sh.m*sh.k), matrix(sh.k*sh.n), matrix(sh.m*sh.n)
	lda, ldb := sh.k, sh.n
	if sh.tA {
		lda = sh.m
	}
	if sh.tB {
		ldb = sh.k
	}
	per := timeCalls(func() {
		s.Sgemm(transpose(sh.tA), transpose(sh.tB), sh.m, sh.n, sh.k, 1, a, lda, b, ldb, 0, c, sh.n)
	}, seconds)
	return 2 * float64(sh.m) * float64(sh.n) * float64(sh.k) / per / 1e9
}

func transpose(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}
