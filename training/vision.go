package training

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gradmesh/gradmesh/nn"
)

// The convolutional models: LeNet-5 and a ResNet for small images, with
// PyTorch's module layout, parameter names and default initialisation, so a
// parameter vector maps one to one onto the state_dict of the same module
// written in PyTorch (scripts/golden.py writes both). They register after
// softmax and mlp (Go runs a package's init functions in file-name order),
// which --help and errors list first.

func init() {
	RegisterModel("lenet5", "lenet5", buildLeNet5)
	RegisterModel("resnet", "resnet:DEPTH[,WIDTH[,GROUPS]]", buildResNet)
}

// imageInput reads a sample shape as the C×H×W layout a convolutional model
// needs; model names the model for the error.
func imageInput(model string, input Shape) (nn.Image, error) {
	switch len(input) {
	case 3:
	case 1:
		return nn.Image{}, fmt.Errorf("%s needs C×H×W images, but the data's samples are flat rows of %d values (a CSV file gives no image layout)",
			model, input[0])
	default:
		return nn.Image{}, fmt.Errorf("%s needs C×H×W images, but the data's samples have shape %s", model, input)
	}
	return nn.Image{C: input[0], H: input[1], W: input[2]}, nil
}

// imageSpec writes what a convolutional model's parameter layout depends
// on besides its own settings: the input layout and the classes, e.g.
// "1x28x28-10".
func imageSpec(in nn.Image, classes int) string {
	return fmt.Sprintf("%dx%dx%d-%d", in.C, in.H, in.W, classes)
}

// leNetMinSide is the smallest image side LeNet-5 takes: conv1 keeps the
// side, each pool halves it (rounding down) and conv2 takes 4 off, and what
// is left must be at least one pixel: ⌊(⌊s/2⌋ − 4)/2⌋ ≥ 1.
const leNetMinSide = 12

// buildLeNet5 is the ModelBuilder of "lenet5".
func buildLeNet5(arg string, input Shape, classes int) (Model, error) {
	if arg != "" {
		return nil, errors.New("lenet5 takes no settings")
	}
	in, err := imageInput("lenet5", input)
	if err != nil {
		return nil, err
	}
	if in.H < leNetMinSide || in.W < leNetMinSide {
		return nil, fmt.Errorf("lenet5 needs images of at least %d×%d pixels (two 5×5 convolutions and two 2×2 pools), but the data's samples are %s",
			leNetMinSide, leNetMinSide, in)
	}
	body, err := LeNet5[float32](in, classes)
	if err != nil {
		return nil, err
	}
	return NewClassifier("lenet5:"+imageSpec(in, classes), body, classes)
}

// LeNet5 is the classic LeNet-5 with ReLU and max pooling, as PyTorch's
// tutorials write it: conv1 (C→6, 5×5, padding 2), ReLU, 2×2 max pool,
// conv2 (6→16, 5×5), ReLU, 2×2 max pool, then fc1 (→120), ReLU, fc2 (→84),
// ReLU, fc3 (→classes) on the flattened 16×h×w map. On 1×28×28 MNIST
// digits it has 61,706 parameters for 10 classes.
func LeNet5[F nn.Float](in nn.Image, classes int) (nn.Layer[F], error) {
	b := &builder[F]{}
	// ReLU and max pooling commute (max(relu(a), relu(b)) = relu(max(a, b))),
	// and both pick the same input for the gradient, so the ReLU runs after
	// the pool, on a quarter of the values.
	conv1 := b.conv("conv1", in, 6, 5, 1, 2, true)
	pool1 := b.maxPool(conv1, 2)
	b.relu(pool1)
	conv2 := b.conv("conv2", pool1, 16, 5, 1, 0, true)
	pool2 := b.maxPool(conv2, 2)
	b.relu(pool2)
	flat := pool2.Size()
	b.linear("fc1", flat, 120)
	b.add("", nn.NewReLU[F](120))
	b.linear("fc2", 120, 84)
	b.add("", nn.NewReLU[F](84))
	b.linear("fc3", 84, classes)
	return b.sequential()
}

// builder chains layers, keeping the first error so that a model reads as
// its list of layers.
type builder[F nn.Float] struct {
	layers []nn.Named[F]
	err    error
}

func (b *builder[F]) add(name string, l nn.Layer[F]) {
	b.layers = append(b.layers, nn.Named[F]{Name: name, Layer: l})
}

// conv adds a Conv2d named name and returns its output layout.
func (b *builder[F]) conv(name string, in nn.Image, out, kernel, stride, pad int, bias bool) nn.Image {
	if b.err != nil {
		return in
	}
	l, err := nn.NewConv2d[F](in, out, kernel, stride, pad, bias)
	if err != nil {
		b.err = fmt.Errorf("%s: %w", name, err)
		return in
	}
	b.add(name, l)
	return l.Out()
}

func (b *builder[F]) relu(in nn.Image) { b.add("", nn.NewReLU[F](in.Size())) }

func (b *builder[F]) maxPool(in nn.Image, kernel int) nn.Image {
	if b.err != nil {
		return in
	}
	l, err := nn.NewMaxPool2d[F](in, kernel, kernel)
	if err != nil {
		b.err = err
		return in
	}
	b.add("", l)
	return l.Out()
}

func (b *builder[F]) groupNorm(name string, in nn.Image, groups int) {
	if b.err != nil {
		return
	}
	l, err := nn.NewGroupNorm[F](in, groups)
	if err != nil {
		b.err = fmt.Errorf("%s: %w", name, err)
		return
	}
	b.add(name, l)
}

func (b *builder[F]) linear(name string, in, out int) { b.add(name, nn.NewLinear[F](in, out, 1)) }

func (b *builder[F]) sequential() (*nn.Sequential[F], error) {
	if b.err != nil {
		return nil, b.err
	}
	return nn.NewSequential(b.layers...)
}

// ResNetConfig is a ResNet for small images in the style of He et al.'s
// CIFAR ResNet-20: a 3×3 stem convolution, three stages of Blocks basic
// blocks of Width, 2·Width and 4·Width channels (each stage after the first
// halving the map with a stride-2 convolution), a global average pool and a
// linear classifier. Depth is 6·Blocks+2 layers. GroupNorm with Groups
// groups stands where the original has batch norm, and a 1×1 convolution
// with a norm projects the shortcut where the shape changes.
type ResNetConfig struct {
	Depth, Width, Groups int
}

// resNetDefaults: width 16 is ResNet-20's. Two groups per norm is a choice
// (the spec's third field changes it): even the first stage's 16 channels
// then normalize over groups of 8 channels of a whole map.
const (
	resNetDefaultWidth  = 16
	resNetDefaultGroups = 2
)

// buildResNet is the ModelBuilder of "resnet:DEPTH[,WIDTH[,GROUPS]]".
func buildResNet(arg string, input Shape, classes int) (Model, error) {
	cfg, err := parseResNet(arg)
	if err != nil {
		return nil, err
	}
	in, err := imageInput("resnet", input)
	if err != nil {
		return nil, err
	}
	body, err := ResNet[float32](cfg, in, classes)
	if err != nil {
		return nil, err
	}
	spec := fmt.Sprintf("resnet:%d,%d,%d:%s", cfg.Depth, cfg.Width, cfg.Groups, imageSpec(in, classes))
	return NewClassifier(spec, body, classes)
}

func parseResNet(arg string) (ResNetConfig, error) {
	cfg := ResNetConfig{Width: resNetDefaultWidth, Groups: resNetDefaultGroups}
	fields := strings.Split(arg, ",")
	if arg == "" || len(fields) > 3 {
		return cfg, errors.New("want resnet:DEPTH[,WIDTH[,GROUPS]], e.g. resnet:20 or resnet:8,16")
	}
	for i, dst := range []*int{&cfg.Depth, &cfg.Width, &cfg.Groups}[:len(fields)] {
		v, err := strconv.Atoi(strings.TrimSpace(fields[i]))
		if err != nil || v < 1 {
			return cfg, fmt.Errorf("%s %q is not a positive integer", []string{"depth", "width", "groups"}[i], fields[i])
		}
		*dst = v
	}
	if cfg.Depth < 8 || (cfg.Depth-2)%6 != 0 {
		return cfg, fmt.Errorf("depth %d: want 6n+2 (8, 14, 20, 32, ...): three stages of n two-layer blocks, a stem and a classifier", cfg.Depth)
	}
	if cfg.Width%cfg.Groups != 0 {
		return cfg, fmt.Errorf("width %d does not split into %d groups", cfg.Width, cfg.Groups)
	}
	return cfg, nil
}

// ResNet builds the network cfg describes for images in, with the module
// names torchvision-style code gives it: conv1, gn1, layer1.0.conv1,
// layer1.0.gn1, ..., layer2.0.shortcut.0 (the projection) and
// layer2.0.shortcut.1 (its norm), fc.
func ResNet[F nn.Float](cfg ResNetConfig, in nn.Image, classes int) (nn.Layer[F], error) {
	b := &builder[F]{}
	x := b.conv("conv1", in, cfg.Width, 3, 1, 1, false)
	b.groupNorm("gn1", x, cfg.Groups)
	b.relu(x)
	blocks := (cfg.Depth - 2) / 6
	for stage := range 3 {
		width := cfg.Width << stage
		var stageLayers []nn.Named[F]
		for i := range blocks {
			stride := 1
			if stage > 0 && i == 0 {
				stride = 2
			}
			block, out, err := basicBlock[F](x, width, stride, cfg.Groups)
			if err != nil {
				return nil, fmt.Errorf("layer%d.%d: %w", stage+1, i, err)
			}
			stageLayers = append(stageLayers, nn.Named[F]{Name: strconv.Itoa(i), Layer: block})
			x = out
		}
		stageSeq, err := nn.NewSequential(stageLayers...)
		if err != nil {
			return nil, err
		}
		b.add(fmt.Sprintf("layer%d", stage+1), stageSeq)
	}
	pool, err := nn.NewGlobalAvgPool2d[F](x)
	if err != nil {
		return nil, err
	}
	b.add("", pool)
	b.linear("fc", x.C, classes)
	return b.sequential()
}

// basicBlock is relu(gn2(conv2(relu(gn1(conv1(x))))) + shortcut(x)), with
// the identity as shortcut unless the block changes the map's shape.
func basicBlock[F nn.Float](in nn.Image, width, stride, groups int) (nn.Layer[F], nn.Image, error) {
	b := &builder[F]{}
	mid := b.conv("conv1", in, width, 3, stride, 1, false)
	b.groupNorm("gn1", mid, groups)
	b.relu(mid)
	out := b.conv("conv2", mid, width, 3, 1, 1, false)
	b.groupNorm("gn2", out, groups)
	main, err := b.sequential()
	if err != nil {
		return nil, in, err
	}
	var shortcut nn.Named[F]
	if stride != 1 || in.C != width {
		p := &builder[F]{}
		p.conv("0", in, width, 1, stride, 0, false)
		p.groupNorm("1", out, groups)
		proj, err := p.sequential()
		if err != nil {
			return nil, in, fmt.Errorf("shortcut: %w", err)
		}
		shortcut = nn.Named[F]{Name: "shortcut", Layer: proj}
	}
	res, err := nn.NewResidual(nn.Named[F]{Layer: main}, shortcut)
	if err != nil {
		return nil, in, err
	}
	block, err := nn.NewSequential(nn.Named[F]{Layer: res}, nn.Named[F]{Layer: nn.NewReLU[F](out.Size())})
	return block, out, err
}
