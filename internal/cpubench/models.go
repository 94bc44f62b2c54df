package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/nn/openblas"
	"github.com/gradmesh/gradmesh/training"
)

// torchScripts maps a model family (the spec's name before ":") to the
// script that times the same step in PyTorch. Each script takes
//
//	--model SPEC --shape CxHxW --classes K --batch B --threads T --seconds S
//
// builds the model from torch.nn modules with gradmesh's layer sizes, times
// forward, mean cross-entropy and backward as timeCalls does (warm up, best
// of chunks of S/10 seconds, under torch.set_num_threads(T)), and prints as
// its last line a JSON object with "ms_per_step". -torch adds families.
var torchScripts = map[string]string{
	"mlp":     "scripts/bench_torch_step.py",
	"softmax": "scripts/bench_torch_step.py",
	"lenet5":  "scripts/bench_torch_step.py",
	"resnet":  "scripts/bench_torch_step.py",
	"gpt":     "scripts/bench_torch_step.py",
}

// benchModel is one model spec with the sample shape and classes it runs on.
type benchModel struct {
	spec    string
	shape   training.Shape
	classes int
}

// parseBenchModel reads SPEC[@SHAPE[/CLASSES]], e.g. "lenet5@1x28x28/10".
func parseBenchModel(arg string, shape training.Shape, classes int) (benchModel, error) {
	spec, rest, ok := strings.Cut(arg, "@")
	m := benchModel{spec: spec, shape: shape, classes: classes}
	if !ok {
		return m, nil
	}
	dims, cls, hasCls := strings.Cut(rest, "/")
	var err error
	if m.shape, err = parseDims(dims); err != nil {
		return m, fmt.Errorf("%s: %w", arg, err)
	}
	if hasCls {
		if m.classes, err = strconv.Atoi(cls); err != nil || m.classes < 2 {
			return m, fmt.Errorf("%s: classes %q, want an integer ≥ 2", arg, cls)
		}
	}
	return m, nil
}

// parseDims reads 1x28x28 or 784.
func parseDims(s string) (training.Shape, error) {
	var shape training.Shape
	for _, d := range strings.Split(s, "x") {
		n, err := strconv.Atoi(d)
		if err != nil {
			return nil, fmt.Errorf("shape %q: %q is not an integer", s, d)
		}
		shape = append(shape, n)
	}
	return shape, shape.Validate()
}

func runModels(args []string, out io.Writer) error {
	fs := newFlags("models")
	batches := fs.String("batch", "64,256", "batch sizes, comma separated")
	threadsFlag := fs.String("threads", "1,2", "thread counts, comma separated")
	seconds := fs.Float64("seconds", 2, "timed run of each measurement")
	shapeFlag := fs.String("shape", "1x28x28", "sample shape of specs without @SHAPE")
	classes := fs.Int("classes", 10, "classes of specs without /CLASSES")
	python := fs.String("python", "/usr/bin/python3", "Python with torch")
	extra := fs.String("torch", "", "more PyTorch scripts: family=script,...")
	rounds := fs.Int("rounds", 2, "times OpenBLAS and PyTorch are measured, alternately, per row; the best counts (gonum once)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 1 {
		return fmt.Errorf("-rounds %d: want ≥ 1", *rounds)
	}
	shape, err := parseDims(*shapeFlag)
	if err != nil {
		return err
	}
	bs, err := intList("batch", *batches)
	if err != nil {
		return err
	}
	threads, err := intList("threads", *threadsFlag)
	if err != nil {
		return err
	}
	if err := addTorchScripts(*extra); err != nil {
		return err
	}
	specs := fs.Args()
	if len(specs) == 0 {
		specs = []string{"mlp:256,128", "mlp:1024,1024"}
	}
	var models []benchModel
	for _, a := range specs {
		m, err := parseBenchModel(a, shape, *classes)
		if err != nil {
			return err
		}
		models = append(models, m)
	}
	lib, libErr := openblas.Load("")
	printModelsHeader(out, lib, libErr, *seconds, *rounds)
	for _, m := range models {
		for _, b := range bs {
			for _, t := range threads {
				if err := modelRow(out, m, b, t, lib, *python, *seconds, *rounds); err != nil {
					return err
				}
			}
		}
	}
	fmt.Fprintf(out, "# load average after: %s\n", loadAverage())
	return nil
}

func addTorchScripts(list string) error {
	if list == "" {
		return nil
	}
	for _, kv := range strings.Split(list, ",") {
		family, script, ok := strings.Cut(kv, "=")
		if !ok || family == "" || script == "" {
			return fmt.Errorf("-torch %q: want family=script", kv)
		}
		torchScripts[family] = script
	}
	return nil
}

func printModelsHeader(out io.Writer, lib *openblas.Library, libErr error, seconds float64, rounds int) {
	fmt.Fprintf(out, "# one training step (forward, mean cross-entropy, backward), ms, best %.1f s chunk of %d alternating rounds\n", seconds/10, rounds)
	if libErr != nil {
		fmt.Fprintf(out, "# OpenBLAS not loaded: %v\n", libErr)
	} else {
		fmt.Fprintf(out, "# %s; OPENBLAS_CORETYPE=%s (PyTorch runs with the same)\n", lib.Name(), os.Getenv("OPENBLAS_CORETYPE"))
	}
	fmt.Fprintf(out, "# vs PyTorch: PyTorch's ms / gradmesh's (above 1: gradmesh is faster)\n")
	fmt.Fprintf(out, "# %s\n", machine())
	fmt.Fprintf(out, "%-16s %5s %7s %10s %10s %10s %9s %9s\n", "model", "batch", "threads",
		"openblas", "gonum", "pytorch", "openblas", "gonum")
	fmt.Fprintf(out, "%-16s %5s %7s %10s %10s %10s %9s %9s\n", "", "", "", "ms", "ms", "ms", "vs torch", "vs torch")
}

// modelRow measures one model at one batch size and thread count: OpenBLAS
// and PyTorch alternately for rounds rounds, keeping the best of each, and
// gonum once. It prints the row.
func modelRow(out io.Writer, m benchModel, batch, threads int, lib *openblas.Library, python string, seconds float64, rounds int) error {
	model, err := training.ParseModel(m.spec, m.shape, m.classes)
	if err != nil {
		return fmt.Errorf("%s on %s samples, %d classes: %w", m.spec, m.shape, m.classes, err)
	}
	defer nn.Use(nn.BLAS())
	ob, pt := -1.0, -1.0
	for range rounds {
		if lib != nil {
			lib.SetThreads(threads)
			nn.Use(lib)
			ob = best(ob, stepMillis(model, m, batch, threads, seconds))
		}
		p, err := torchMillis(python, m, batch, threads, seconds)
		if err != nil {
			return err
		}
		pt = best(pt, p)
	}
	nn.Use(nn.Gonum())
	gn := stepMillis(model, m, batch, threads, seconds)
	fmt.Fprintf(out, "%-16s %5d %7d %10s %10s %10s %9s %9s\n", m.spec, batch, threads,
		millis(ob), millis(gn), millis(pt), ratio(pt, ob), ratio(pt, gn))
	return nil
}

// best is the smaller of two times, where -1 stands for none.
func best(a, b float64) float64 {
	if a < 0 || (b >= 0 && b < a) {
		return b
	}
	return a
}

// stepMillis times model.LossGrad on a random batch, on threads Go threads.
// The inputs are random integers below the class count: valid token ids
// for a language model, and as good as any values for a dense model, whose
// time does not depend on them.
func stepMillis(model training.Model, m benchModel, batch, threads int, seconds float64) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	defer nn.SetParallelism(nn.SetParallelism(threads))
	rng := rand.New(rand.NewPCG(7, uint64(batch)))
	params := make([]float32, model.NumParams())
	model.Init(params, rng)
	grad := make([]float32, len(params))
	x := make([]float32, batch*m.shape.Size())
	for i := range x {
		x[i] = float32(rng.IntN(m.classes))
	}
	y := make([]int32, batch)
	for i := range y {
		y[i] = int32(rng.IntN(m.classes))
	}
	return 1e3 * timeCalls(func() { model.LossGrad(params, grad, x, y) }, seconds)
}

// torchMillis runs the family's PyTorch script; -1 when there is none.
func torchMillis(python string, m benchModel, batch, threads int, seconds float64) (float64, error) {
	family, _, _ := strings.Cut(m.spec, ":")
	script, ok := torchScripts[family]
	if !ok {
		return -1, nil
	}
	dims := make([]string, len(m.shape))
	for i, d := range m.shape {
		dims[i] = strconv.Itoa(d)
	}
	args := []string{script, "--model", m.spec, "--shape", strings.Join(dims, "x"), "--classes", strconv.Itoa(m.classes),
		"--batch", strconv.Itoa(batch), "--threads", strconv.Itoa(threads), "--seconds", strconv.FormatFloat(seconds, 'f', -1, 64)}
	cmd := exec.Command(python, args...)
	// OpenBLAS and OpenMP size their pools from these as they load; the
	// script's set_num_threads alone leaves OpenBLAS on every core.
	n := strconv.Itoa(threads)
	cmd.Env = append(os.Environ(), "OPENBLAS_NUM_THREADS="+n, "OMP_NUM_THREADS="+n, "MKL_NUM_THREADS="+n)
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%s %s: %v", python, strings.Join(args, " "), err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var res struct {
		MsPerStep float64 `json:"ms_per_step"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || res.MsPerStep <= 0 {
		return 0, fmt.Errorf("%s: last line %q is not {\"ms_per_step\": ...}", script, lines[len(lines)-1])
	}
	return res.MsPerStep, nil
}

func millis(v float64) string {
	if v < 0 {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func ratio(torch, ours float64) string {
	if torch < 0 || ours < 0 {
		return "–"
	}
	return strconv.FormatFloat(torch/ours, 'f', 2, 64) + "×"
}
