package nn

// pool2d is the geometry the pooling layers share: a kh×kw window moved by
// sh, sw over each channel of the input, without padding, with PyTorch's
// floor rule for the output size.
type pool2d struct {
	in, out        Image
	kh, kw, sh, sw int
}

func newPool2d(layer string, in Image, kh, kw, sh, sw int) (pool2d, error) {
	oh, ow, err := sweep(layer, in, kh, kw, sh, sw, 0)
	if err != nil {
		return pool2d{}, err
	}
	return pool2d{in: in, out: Image{C: in.C, H: oh, W: ow}, kh: kh, kw: kw, sh: sh, sw: sw}, nil
}

// planes runs do(p) on every plane p (a channel of a sample: sample p/C,
// channel p%C) of a batch of n, in chunks of samples on up to Parallelism
// goroutines. Planes are independent, so the split does not matter.
func planes(g pool2d, n int, do func(plane int)) {
	spans := chunks(n, g.out.Size())
	forEach(workersFor(len(spans)), len(spans), func(_, c int) {
		for p := spans[c].lo * g.in.C; p < spans[c].hi*g.in.C; p++ {
			do(p)
		}
	})
}

// MaxPool2d is torch.nn.MaxPool2d without padding or dilation: each output
// is the largest input in its window, NaN if the window holds one. The
// gradient goes to the input that PyTorch picks: the first of equal largest
// values in row-major order, or the last NaN.
//
// The forward pass keeps no indices: it takes maxima without branches (a
// branch per comparison mispredicts half the time on real activations,
// which made pooling cost as much as a convolution), and the backward pass
// finds each window's largest input again by comparing with the output.
type MaxPool2d[F Float] struct {
	pool2d
	x, y, dx []F
}

// NewMaxPool2d pools in over kernel×kernel windows moved by stride
// (PyTorch's default stride is the kernel).
func NewMaxPool2d[F Float](in Image, kernel, stride int) (*MaxPool2d[F], error) {
	g, err := newPool2d("maxpool2d", in, kernel, kernel, stride, stride)
	if err != nil {
		return nil, err
	}
	return &MaxPool2d[F]{pool2d: g}, nil
}

// In is the layout of the layer's input samples.
func (l *pool2d) In() Image { return l.in }

// Out is the layout of the layer's output samples.
func (l *pool2d) Out() Image { return l.out }

// Params implements Layer: pooling has none.
func (l *pool2d) Params() []Param { return nil }

// InSize implements Layer.
func (l *pool2d) InSize() int { return l.in.Size() }

// OutSize implements Layer.
func (l *pool2d) OutSize() int { return l.out.Size() }

// FLOPs implements Layer: one comparison or addition per window value.
func (l *pool2d) FLOPs() float64 { return float64(l.out.Size() * l.kh * l.kw) }

// Clone implements Layer.
func (l *MaxPool2d[F]) Clone() Layer[F] { return &MaxPool2d[F]{pool2d: l.pool2d} }

// pair2x2 says whether the window is the common 2×2 with stride 2 (every
// CNN's down-sampling pool), which both passes unroll.
func (l *pool2d) pair2x2() bool { return l.kh == 2 && l.kw == 2 && l.sh == 2 && l.sw == 2 }

// Forward implements Layer. Go's max is NaN when either value is.
func (l *MaxPool2d[F]) Forward(_, x []F, n int) []F {
	inArea, outArea := l.in.H*l.in.W, l.out.H*l.out.W
	l.x = x
	l.y = Grow(l.y, n*l.out.Size())
	planes(l.pool2d, n, func(p int) {
		src, dst := x[p*inArea:][:inArea], l.y[p*outArea:][:outArea]
		for oy := range l.out.H {
			out := dst[oy*l.out.W:][:l.out.W]
			if l.pair2x2() {
				top, bottom := src[2*oy*l.in.W:][:l.in.W], src[(2*oy+1)*l.in.W:][:l.in.W]
				for ox := range out {
					out[ox] = max(top[2*ox], top[2*ox+1], bottom[2*ox], bottom[2*ox+1])
				}
				continue
			}
			for ox := range out {
				at := oy*l.sh*l.in.W + ox*l.sw
				best := src[at]
				for ky := range l.kh {
					for _, v := range src[at+ky*l.in.W:][:l.kw] {
						best = max(best, v)
					}
				}
				out[ox] = best
			}
		}
	})
	return l.y
}

// Backward implements Layer.
func (l *MaxPool2d[F]) Backward(_, _, dy []F, n int, needDX bool) []F {
	if !needDX {
		return nil
	}
	inArea, outArea := l.in.H*l.in.W, l.out.H*l.out.W
	l.dx = Grow(l.dx, n*l.in.Size())
	planes(l.pool2d, n, func(p int) {
		src, dst := l.x[p*inArea:][:inArea], l.dx[p*inArea:][:inArea]
		y, up := l.y[p*outArea:][:outArea], dy[p*outArea:][:outArea]
		clear(dst)
		for oy := range l.out.H {
			if l.pair2x2() {
				l.back2x2(dst, src, y, up, oy)
				continue
			}
			for ox := range l.out.W {
				j := oy*l.out.W + ox
				dst[l.argmax(src, oy*l.sh*l.in.W+ox*l.sw, y[j])] += up[j]
			}
		}
	})
	return l.dx
}

// back2x2 sends row oy of the upstream gradient of a 2×2, stride-2 pool to
// the first input of each window equal to its maximum, found without
// branches: k counts the leading inputs that are not it.
func (l *MaxPool2d[F]) back2x2(dst, src, y, up []F, oy int) {
	w := l.in.W
	top, bottom := src[2*oy*w:][:w], src[(2*oy+1)*w:][:w]
	ys, ups := y[oy*l.out.W:][:l.out.W], up[oy*l.out.W:][:l.out.W]
	for ox, m := range ys {
		at := 2*oy*w + 2*ox
		if m != m {
			dst[l.argmax(src, at, m)] += ups[ox]
			continue
		}
		n0, n1, n2 := notEqual(top[2*ox], m), notEqual(top[2*ox+1], m), notEqual(bottom[2*ox], m)
		k := n0 * (1 + n1*(1+n2))
		dst[at+(k>>1)*w+k&1] = ups[ox] // windows do not overlap: one write each
	}
}

// notEqual is 1 when a ≠ b, else 0, computed without a branch.
func notEqual[F Float](a, b F) int {
	if a != b {
		return 1
	}
	return 0
}

// argmax finds the input of the window at at that the maximum m came from:
// the first equal to it, or the last NaN when m is NaN.
func (l *MaxPool2d[F]) argmax(src []F, at int, m F) int {
	found := -1
	for ky := range l.kh {
		row := at + ky*l.in.W
		for i, v := range src[row:][:l.kw] {
			if m != m && v != v {
				found = row + i
			} else if v == m && found < 0 {
				return row + i
			}
		}
	}
	return found
}

// AvgPool2d is torch.nn.AvgPool2d without padding: each output is the mean
// of its window. Over the whole map (NewGlobalAvgPool2d) it is the global
// average pool that ends a ResNet, each channel reduced to one value.
type AvgPool2d[F Float] struct {
	pool2d
	y, dx []F
}

// NewAvgPool2d averages in over kernel×kernel windows moved by stride.
func NewAvgPool2d[F Float](in Image, kernel, stride int) (*AvgPool2d[F], error) {
	g, err := newPool2d("avgpool2d", in, kernel, kernel, stride, stride)
	if err != nil {
		return nil, err
	}
	return &AvgPool2d[F]{pool2d: g}, nil
}

// NewGlobalAvgPool2d averages each channel of in to one value, as
// torch.nn.AdaptiveAvgPool2d(1) does: an AvgPool2d whose window is the
// whole H×W map.
func NewGlobalAvgPool2d[F Float](in Image) (*AvgPool2d[F], error) {
	g, err := newPool2d("global avgpool2d", in, in.H, in.W, in.H, in.W)
	if err != nil {
		return nil, err
	}
	return &AvgPool2d[F]{pool2d: g}, nil
}

// Clone implements Layer.
func (l *AvgPool2d[F]) Clone() Layer[F] { return &AvgPool2d[F]{pool2d: l.pool2d} }

// Forward implements Layer.
func (l *AvgPool2d[F]) Forward(_, x []F, n int) []F {
	inArea, outArea := l.in.H*l.in.W, l.out.H*l.out.W
	scale := 1 / F(l.kh*l.kw)
	l.y = Grow(l.y, n*l.out.Size())
	planes(l.pool2d, n, func(p int) {
		src, dst := x[p*inArea:][:inArea], l.y[p*outArea:][:outArea]
		for oy := range l.out.H {
			for ox := range l.out.W {
				at := oy*l.sh*l.in.W + ox*l.sw
				var sum F
				for ky := range l.kh {
					for _, v := range src[at+ky*l.in.W:][:l.kw] {
						sum += v
					}
				}
				dst[oy*l.out.W+ox] = sum * scale
			}
		}
	})
	return l.y
}

// Backward implements Layer: each input gets the mean's share of the
// gradient of every window that holds it.
func (l *AvgPool2d[F]) Backward(_, _, dy []F, n int, needDX bool) []F {
	if !needDX {
		return nil
	}
	inArea, outArea := l.in.H*l.in.W, l.out.H*l.out.W
	scale := 1 / F(l.kh*l.kw)
	l.dx = Grow(l.dx, n*l.in.Size())
	planes(l.pool2d, n, func(p int) {
		src, dst := dy[p*outArea:][:outArea], l.dx[p*inArea:][:inArea]
		clear(dst)
		for oy := range l.out.H {
			for ox := range l.out.W {
				d := src[oy*l.out.W+ox] * scale
				at := oy*l.sh*l.in.W + ox*l.sw
				for ky := range l.kh {
					row := dst[at+ky*l.in.W:][:l.kw]
					for i := range row {
						row[i] += d
					}
				}
			}
		}
	})
	return l.dx
}
