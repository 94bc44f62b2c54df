package nn_test

import (
	"encoding/json"
	"testing"

	"github.com/gradmesh/gradmesh/nn"
	"github.com/gradmesh/gradmesh/nn/nntest"
)

func TestLinearGradientsMatchFiniteDifferences(t *testing.T) {
	nntest.CheckGradients(t, nn.NewLinear[float64](5, 4, 1), 3, 1, nntest.GradCheck{})
	nntest.CheckGradients(t, nn.NewLinear[float64](6, 9, 7), 2, 2, nntest.GradCheck{})
}

func TestReLUGradientsMatchFiniteDifferences(t *testing.T) {
	nntest.CheckGradients(t, nn.NewReLU[float64](11), 4, 3, nntest.GradCheck{})
}

func residualBlock[F nn.Float](width int) nn.Layer[F] {
	body := nn.MustSequential(
		nn.Named[F]{Name: "0", Layer: nn.NewLinear[F](width, width, 1)},
		nn.Named[F]{Name: "1", Layer: nn.NewReLU[F](width)},
		nn.Named[F]{Name: "2", Layer: nn.NewLinear[F](width, width, 1)},
	)
	r, err := nn.NewResidual(nn.Named[F]{Name: "body", Layer: body}, nn.Named[F]{})
	if err != nil {
		panic(err)
	}
	return r
}

func TestResidualGradientsMatchFiniteDifferences(t *testing.T) {
	nntest.CheckGradients(t, residualBlock[float64](6), 4, 4, nntest.GradCheck{})
}

func TestLinearAndResidualMatchPyTorch(t *testing.T) {
	for _, c := range nntest.LoadGolden(t, "testdata/golden/linear.json") {
		var cfg struct{ In, Out, Positions, Width int }
		if err := json.Unmarshal(c.Config, &cfg); err != nil {
			t.Fatal(err)
		}
		var layer nn.Layer[float32]
		if cfg.Width > 0 {
			layer = residualBlock[float32](cfg.Width)
		} else {
			layer = nn.NewLinear[float32](cfg.In, cfg.Out, cfg.Positions)
		}
		t.Run(c.Name, func(t *testing.T) { nntest.CheckGolden(t, layer, c) })
	}
}

func TestResidualRefusesAShapeChangeWithoutProjection(t *testing.T) {
	if _, err := nn.NewResidual(nn.Named[float32]{Name: "fc", Layer: nn.NewLinear[float32](4, 3, 1)}, nn.Named[float32]{}); err == nil {
		t.Fatal("a 4→3 branch with an identity shortcut was accepted")
	}
}
