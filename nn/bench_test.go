package nn_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gradmesh/gradmesh/nn"
)

// BenchmarkConvLayers times one forward and backward pass of each layer of
// LeNet-5 and of a ResNet stage on a batch of 64 MNIST-sized samples, on
// one goroutine: what each costs besides the matrix products.
func BenchmarkConvLayers(b *testing.B) {
	lenet1 := nn.Image{C: 1, H: 28, W: 28}
	conv1out := nn.Image{C: 6, H: 28, W: 28}
	res := nn.Image{C: 16, H: 28, W: 28}
	for _, c := range []struct {
		name  string
		layer func() (nn.Layer[float32], error)
	}{
		{"lenet.conv1", func() (nn.Layer[float32], error) { return nn.NewConv2d[float32](lenet1, 6, 5, 1, 2, true) }},
		{"lenet.pool1", func() (nn.Layer[float32], error) { return nn.NewMaxPool2d[float32](conv1out, 2, 2) }},
		{"lenet.conv2", func() (nn.Layer[float32], error) {
			return nn.NewConv2d[float32](nn.Image{C: 6, H: 14, W: 14}, 16, 5, 1, 0, true)
		}},
		{"relu.6x28x28", func() (nn.Layer[float32], error) { return nn.NewReLU[float32](conv1out.Size()), nil }},
		{"resnet.conv3x3.16", func() (nn.Layer[float32], error) { return nn.NewConv2d[float32](res, 16, 3, 1, 1, false) }},
		{"resnet.gn.16x28x28", func() (nn.Layer[float32], error) { return nn.NewGroupNorm[float32](res, 2) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			defer nn.SetParallelism(nn.SetParallelism(1))
			const n = 64
			l, err := c.layer()
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 1))
			p := make([]float32, nn.NumParams(l.Params()))
			nn.InitParams(l.Params(), p, rng)
			g := make([]float32, len(p))
			x, dy := normals(rng, n*l.InSize()), normals(rng, n*l.OutSize())
			for b.Loop() {
				l.Forward(p, x, n)
				l.Backward(p, g, dy, n, true)
			}
		})
	}
}
