package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Layer is one differentiable stage of a network. It maps a batch of n
// samples, each InSize values laid out row-major, to n samples of OutSize
// values. A layer keeps the scratch its passes need, so each goroutine that
// computes needs its own (see Clone).
//
// The protocol: Forward, then at most one Backward with the same p and n,
// before the next Forward. The x passed to Forward and the slice it returns
// stay untouched by the caller until that Backward has run (a network keeps
// every layer's output alive for the backward pass anyway).
type Layer[F Float] interface {
	// Params lists the layer's parameter tensors in PyTorch's order; p and g
	// in the passes below hold them back to back.
	Params() []Param
	// InSize and OutSize are the values per sample in and out.
	InSize() int
	OutSize() int
	// Forward computes the output of n samples x under parameters p. The
	// returned slice belongs to the layer and is valid until its next Forward.
	Forward(p, x []F, n int) []F
	// Backward takes dy, the loss gradient at the output of the last
	// Forward, writes the gradient of the parameters into g (overwriting, not
	// adding) and, when needDX is set, returns the gradient at the input; nil
	// otherwise. The returned slice belongs to the layer.
	Backward(p, g, dy []F, n int, needDX bool) []F
	// FLOPs is the forward pass's floating-point work per sample; training
	// costs about three times as much.
	FLOPs() float64
	// Clone returns a layer of the same shape with its own scratch.
	Clone() Layer[F]
}

// Param is one parameter tensor: its PyTorch name relative to the layer
// ("weight", "conv1.bias"), its shape and how it starts.
type Param struct {
	Name  string
	Shape []int
	Init  Init
}

// Size is the number of values in the tensor.
func (p Param) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Init describes a tensor's initial values.
type Init struct {
	Kind  InitKind
	Scale float64 // uniform: half-width; normal: standard deviation; constant: value
}

// InitKind is a family of initial distributions.
type InitKind int

const (
	Constant InitKind = iota // every value Scale
	Uniform                  // uniform on ±Scale
	Normal                   // normal with mean 0, standard deviation Scale
)

// FanIn is PyTorch's default for Linear and Conv2d weights and biases:
// uniform on ±1/√fanIn (kaiming_uniform with a=√5 comes to the same bound).
func FanIn(fanIn int) Init { return Init{Kind: Uniform, Scale: 1 / math.Sqrt(float64(fanIn))} }

// Fill writes the tensor's initial values into w, drawing from rng.
func (in Init) Fill(w []float32, rng *rand.Rand) {
	for i := range w {
		switch in.Kind {
		case Uniform:
			w[i] = float32((2*rng.Float64() - 1) * in.Scale)
		case Normal:
			w[i] = float32(rng.NormFloat64() * in.Scale)
		default:
			w[i] = float32(in.Scale)
		}
	}
}

// NumParams is the total size of a layer's parameters.
func NumParams(ps []Param) int {
	n := 0
	for _, p := range ps {
		n += p.Size()
	}
	return n
}

// InitParams writes every tensor's initial values into params, in order.
func InitParams(ps []Param, params []float32, rng *rand.Rand) {
	off := 0
	for _, p := range ps {
		p.Init.Fill(params[off:off+p.Size()], rng)
		off += p.Size()
	}
}

// prefixed returns ps with prefix+"." before each name (none when prefix is "").
func prefixed(prefix string, ps []Param) []Param {
	if prefix == "" {
		return ps
	}
	out := make([]Param, len(ps))
	for i, p := range ps {
		p.Name = prefix + "." + p.Name
		out[i] = p
	}
	return out
}

// Named is a layer under the name PyTorch gives its module ("conv1", "0",
// "h.3"); an empty name adds nothing to its parameters' names.
type Named[F Float] struct {
	Name  string
	Layer Layer[F]
}

// Sequential runs its layers one after another, as torch.nn.Sequential does;
// its parameters are theirs in order, named NAME.param.
type Sequential[F Float] struct {
	layers  []Named[F]
	offsets []int // offsets[i]: where layer i's parameters start; last entry the total
}

// NewSequential chains layers; each one's InSize must equal the previous
// one's OutSize.
func NewSequential[F Float](layers ...Named[F]) (*Sequential[F], error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("nn: a sequential network needs at least one layer")
	}
	s := &Sequential[F]{layers: layers, offsets: make([]int, len(layers)+1)}
	for i, l := range layers {
		if i > 0 && l.Layer.InSize() != layers[i-1].Layer.OutSize() {
			return nil, fmt.Errorf("nn: layer %d (%s) takes %d values per sample, but layer %d (%s) gives %d",
				i, l.Name, l.Layer.InSize(), i-1, layers[i-1].Name, layers[i-1].Layer.OutSize())
		}
		s.offsets[i+1] = s.offsets[i] + NumParams(l.Layer.Params())
	}
	return s, nil
}

// MustSequential is NewSequential for layer lists a model builder has
// already sized to fit; a mismatch there is a bug in the builder.
func MustSequential[F Float](layers ...Named[F]) *Sequential[F] {
	s, err := NewSequential(layers...)
	if err != nil {
		panic(err)
	}
	return s
}

// Params implements Layer.
func (s *Sequential[F]) Params() []Param {
	var out []Param
	for _, l := range s.layers {
		out = append(out, prefixed(l.Name, l.Layer.Params())...)
	}
	return out
}

// InSize implements Layer.
func (s *Sequential[F]) InSize() int { return s.layers[0].Layer.InSize() }

// OutSize implements Layer.
func (s *Sequential[F]) OutSize() int { return s.layers[len(s.layers)-1].Layer.OutSize() }

func (s *Sequential[F]) params(p []F, i int) []F { return p[s.offsets[i]:s.offsets[i+1]] }

// Forward implements Layer.
func (s *Sequential[F]) Forward(p, x []F, n int) []F {
	for i, l := range s.layers {
		x = l.Layer.Forward(s.params(p, i), x, n)
	}
	return x
}

// Backward implements Layer.
func (s *Sequential[F]) Backward(p, g, dy []F, n int, needDX bool) []F {
	for i := len(s.layers) - 1; i >= 0; i-- {
		dy = s.layers[i].Layer.Backward(s.params(p, i), s.params(g, i), dy, n, i > 0 || needDX)
	}
	return dy
}

// FLOPs implements Layer.
func (s *Sequential[F]) FLOPs() float64 {
	var f float64
	for _, l := range s.layers {
		f += l.Layer.FLOPs()
	}
	return f
}

// Clone implements Layer.
func (s *Sequential[F]) Clone() Layer[F] {
	layers := make([]Named[F], len(s.layers))
	for i, l := range s.layers {
		layers[i] = Named[F]{Name: l.Name, Layer: l.Layer.Clone()}
	}
	return MustSequential(layers...)
}

// Describe lists a layer's parameters one per line, as name [shape], for
// logs and error messages.
func Describe(ps []Param) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s %v\n", p.Name, p.Shape)
	}
	return b.String()
}
