package nn

import "fmt"

// Conv2d is torch.nn.Conv2d with a square kernel, one stride and zero
// padding on every side (no dilation, no groups): weight OC×C×K×K, bias OC
// unless it has none (a convolution followed by a norm does not need one).
//
// It computes by im2col and GEMM. A batch is cut into chunks of samples
// (see chunks); for each chunk the input patches are unrolled into a
// C·K·K × (samples·OH·OW) matrix, and the output of the whole chunk is one
// matrix product with the weight, so a layer on a small feature map still
// multiplies wide matrices. The backward pass reuses the forward pass's
// patches when the whole batch's fit in keptPatchesMax values, and unrolls
// them again otherwise: at ResNet widths they can take tens of megabytes per
// layer, and unrolling costs a small part of the products. Chunks run on up
// to Parallelism goroutines, each with its own scratch, and the weight
// gradient is summed over chunks in chunk order.
type Conv2d[F Float] struct {
	in, out             Image
	kernel, stride, pad int
	bias                bool
	// colLo[kx], colHi[kx]: the output columns ox whose input column
	// ox·stride − pad + kx falls inside the image; the rest read padding.
	colLo, colHi []int

	x, y, dx []F
	cols     [][]F // per worker: the unrolled patches of a chunk, C·K·K × columns
	prods    [][]F // per worker: a chunk's output or upstream gradient, OC × columns
	parts    [][]F // per chunk: its share of the parameter gradient
	// kept holds the last Forward's patches, chunk after chunk, when they
	// fit (keptPatchesMax); keptN is that Forward's batch, 0 when not kept.
	kept  []F
	keptN int
}

// keptPatchesMax is the most patch values (16 MiB of float32) a Conv2d keeps
// from its forward pass for the backward pass. LeNet-5's layers on a batch
// of 64 MNIST digits need 1.3 and 1 million; a 16-channel 3×3 layer of a
// ResNet on 28×28 maps 7 million at that batch, so it unrolls again rather
// than hold 29 MB per layer.
var keptPatchesMax = 4 << 20 // a variable only so that tests can exercise both paths

// NewConv2d convolves in with outChannels kernels of kernel×kernel, moving
// by stride and padding the input with pad zeros on every side; bias says
// whether it adds a bias per output channel.
func NewConv2d[F Float](in Image, outChannels, kernel, stride, pad int, bias bool) (*Conv2d[F], error) {
	if outChannels < 1 {
		return nil, fmt.Errorf("nn: conv2d on %s: %d output channels, want ≥ 1", in, outChannels)
	}
	oh, ow, err := sweep(fmt.Sprintf("conv2d %d→%d", in.C, outChannels), in, kernel, kernel, stride, stride, pad)
	if err != nil {
		return nil, err
	}
	l := &Conv2d[F]{in: in, out: Image{C: outChannels, H: oh, W: ow}, kernel: kernel, stride: stride, pad: pad, bias: bias}
	l.colLo, l.colHi = insideRange(ow, in.W, kernel, stride, pad)
	return l, nil
}

// insideRange returns, for each kernel offset k, the outputs [lo[k], hi[k])
// whose input index o·stride − pad + k lies in [0, size); lo = hi when none
// does (padding wider than the image can leave a kernel column all in it).
func insideRange(outs, size, kernel, stride, pad int) (lo, hi []int) {
	lo, hi = make([]int, kernel), make([]int, kernel)
	for k := range kernel {
		// o·stride ≥ pad − k and o·stride ≤ size − 1 + pad − k.
		first := 0
		if pad-k > 0 {
			first = (pad - k + stride - 1) / stride
		}
		last := size - 1 + pad - k // o·stride ≤ last
		end := 0
		if last >= 0 {
			end = min(outs, last/stride+1)
		}
		lo[k], hi[k] = min(first, end), end
	}
	return lo, hi
}

// In is the layout of the layer's input samples.
func (l *Conv2d[F]) In() Image { return l.in }

// Out is the layout of the layer's output samples.
func (l *Conv2d[F]) Out() Image { return l.out }

// patch is the number of values one output reads: C·K·K.
func (l *Conv2d[F]) patch() int { return l.in.C * l.kernel * l.kernel }

// Params implements Layer: PyTorch's weight OC×C×K×K, then bias OC.
func (l *Conv2d[F]) Params() []Param {
	init := FanIn(l.patch())
	ps := []Param{{Name: "weight", Shape: []int{l.out.C, l.in.C, l.kernel, l.kernel}, Init: init}}
	if l.bias {
		ps = append(ps, Param{Name: "bias", Shape: []int{l.out.C}, Init: init})
	}
	return ps
}

// InSize implements Layer.
func (l *Conv2d[F]) InSize() int { return l.in.Size() }

// OutSize implements Layer.
func (l *Conv2d[F]) OutSize() int { return l.out.Size() }

// FLOPs implements Layer.
func (l *Conv2d[F]) FLOPs() float64 {
	f := 2 * float64(l.patch()) * float64(l.out.Size())
	if l.bias {
		f += float64(l.out.Size())
	}
	return f
}

// Clone implements Layer.
func (l *Conv2d[F]) Clone() Layer[F] {
	c := *l
	c.x, c.y, c.dx, c.cols, c.prods, c.parts, c.kept, c.keptN = nil, nil, nil, nil, nil, nil, nil, 0
	return &c
}

// scratch sizes the per-worker buffers for the chunks spans; patches says
// whether the workers unroll patches into buffers of their own (they do not
// when the batch's patches are kept).
func (l *Conv2d[F]) scratch(workers int, spans []span, patches bool) {
	most := 0
	for _, s := range spans {
		most = max(most, s.hi-s.lo)
	}
	cols := most * l.out.H * l.out.W
	if patches {
		l.cols = perWorker(l.cols, workers, l.patch()*cols)
	}
	l.prods = perWorker(l.prods, workers, l.out.C*cols)
}

// Forward implements Layer.
func (l *Conv2d[F]) Forward(p, x []F, n int) []F {
	l.x = x
	l.y = Grow(l.y, n*l.out.Size())
	weight := p[:l.out.C*l.patch()]
	area := l.out.H * l.out.W
	spans := chunks(n, area)
	workers := workersFor(len(spans))
	l.keptN = 0
	keep := n*l.patch()*area <= keptPatchesMax
	l.scratch(workers, spans, !keep)
	if keep {
		l.kept, l.keptN = Grow(l.kept, n*l.patch()*area), n
	}
	forEach(workers, len(spans), func(w, c int) {
		s := spans[c]
		cols := (s.hi - s.lo) * area
		col, prod := l.patches(w, s, keep), l.prods[w][:l.out.C*cols]
		l.im2col(col, x, s)
		Gemm(false, false, l.out.C, cols, l.patch(), 1, weight, l.patch(), col, cols, 0, prod, cols)
		l.scatter(prod, p, s)
	})
	return l.y
}

// patches is where the unrolled patches of chunk s go: their place in kept
// when the batch's patches are kept, worker w's buffer otherwise.
func (l *Conv2d[F]) patches(w int, s span, kept bool) []F {
	size := l.patch() * l.out.H * l.out.W
	if kept {
		return l.kept[s.lo*size : s.hi*size]
	}
	return l.cols[w][:(s.hi-s.lo)*size]
}

// scatter moves a chunk's product, OC × (samples·OH·OW), into the samples'
// C×H×W outputs, adding the bias.
func (l *Conv2d[F]) scatter(prod, p []F, s span) {
	area := l.out.H * l.out.W
	cols := (s.hi - s.lo) * area
	var bias []F
	if l.bias {
		bias = p[l.out.C*l.patch():]
	}
	for i := s.lo; i < s.hi; i++ {
		for oc := range l.out.C {
			src := prod[oc*cols+(i-s.lo)*area:][:area]
			dst := l.y[i*l.out.Size()+oc*area:][:area]
			if bias == nil {
				copy(dst, src)
				continue
			}
			b := bias[oc]
			for j, v := range src {
				dst[j] = v + b
			}
		}
	}
}

// gather moves the samples' upstream gradients into a chunk's OC ×
// (samples·OH·OW) matrix, the inverse of scatter.
func (l *Conv2d[F]) gather(prod, dy []F, s span) {
	area := l.out.H * l.out.W
	cols := (s.hi - s.lo) * area
	for i := s.lo; i < s.hi; i++ {
		for oc := range l.out.C {
			copy(prod[oc*cols+(i-s.lo)*area:][:area], dy[i*l.out.Size()+oc*area:][:area])
		}
	}
}

// Backward implements Layer.
func (l *Conv2d[F]) Backward(p, g, dy []F, n int, needDX bool) []F {
	weight := p[:l.out.C*l.patch()]
	spans := chunks(n, l.out.H*l.out.W)
	workers := workersFor(len(spans))
	reuse := l.keptN == n
	l.scratch(workers, spans, !reuse)
	l.parts = perWorker(l.parts, len(spans), len(g))
	if needDX {
		l.dx = Grow(l.dx, n*l.in.Size())
	}
	forEach(workers, len(spans), func(w, c int) {
		s := spans[c]
		cols := (s.hi - s.lo) * l.out.H * l.out.W
		col, prod := l.patches(w, s, reuse), l.prods[w][:l.out.C*cols]
		l.gather(prod, dy, s)
		part := l.parts[c]
		if l.bias {
			for oc, row := 0, prod; oc < l.out.C; oc, row = oc+1, row[cols:] {
				var sum F
				for _, v := range row[:cols] {
					sum += v
				}
				part[l.out.C*l.patch()+oc] = sum
			}
		}
		if !reuse {
			l.im2col(col, l.x, s)
		}
		Gemm(false, true, l.out.C, l.patch(), cols, 1, prod, cols, col, cols, 0, part, l.patch())
		if needDX {
			// The patches are used up: the same buffer takes their gradient.
			Gemm(true, false, l.patch(), cols, l.out.C, 1, weight, l.patch(), prod, cols, 0, col, cols)
			l.col2im(col, s)
		}
	})
	sumInto(g, l.parts[:len(spans)])
	l.keptN = 0 // the patches' buffer now holds their gradient
	if !needDX {
		return nil
	}
	return l.dx
}

// im2col unrolls the patches of samples s of x into col, a C·K·K ×
// (samples·OH·OW) matrix: row (c, ky, kx), column (sample, oy, ox) holds
// input (c, oy·stride − pad + ky, ox·stride − pad + kx), or 0 in the padding.
func (l *Conv2d[F]) im2col(col, x []F, s span) {
	l.eachPatchRow(col, x, s, func(row, plane []F, ky, kx int) { l.unrollRow(row, plane, ky, kx) })
}

// eachPatchRow calls do for every sample of s, input channel c and kernel
// offset (ky, kx), with the sample's stretch of row (c, ky, kx) of col (laid
// out as im2col lays it) and the sample's channel-c plane of images.
func (l *Conv2d[F]) eachPatchRow(col, images []F, s span, do func(row, plane []F, ky, kx int)) {
	in, area := l.in, l.out.H*l.out.W
	cols := (s.hi - s.lo) * area
	for i := s.lo; i < s.hi; i++ {
		sample := images[i*in.Size():][:in.Size()]
		base := (i - s.lo) * area
		for c := range in.C {
			plane := sample[c*in.H*in.W:][:in.H*in.W]
			for ky := range l.kernel {
				for kx := range l.kernel {
					do(col[((c*l.kernel+ky)*l.kernel+kx)*cols+base:][:area], plane, ky, kx)
				}
			}
		}
	}
}

// sameWidth says whether the layer moves by 1 and keeps the map's width
// (a 3×3 convolution padded by 1, LeNet's 5×5 padded by 2). Then output
// (oy, ox) of kernel offset (ky, kx) reads input oy·W + ox + (ky−pad)·W +
// (kx−pad): one shift for the whole plane, so a kernel offset's row of
// patches is one contiguous copy of the input, with the padding columns
// zeroed afterwards.
func (l *Conv2d[F]) sameWidth() bool { return l.stride == 1 && l.out.W == l.in.W }

// validRows returns the output rows [lo, hi) whose input row oy − pad + ky
// lies inside the image, for a layer of stride 1.
func (l *Conv2d[F]) validRows(ky int) (lo, hi int) {
	lo, hi = min(max(0, l.pad-ky), l.out.H), min(l.out.H, l.in.H+l.pad-ky)
	return lo, max(lo, hi)
}

// unrollRow fills one kernel offset's outputs (OH·OW of them) from one
// input plane.
func (l *Conv2d[F]) unrollRow(row, plane []F, ky, kx int) {
	in, out := l.in, l.out
	if l.sameWidth() {
		w := in.W
		top, bottom := l.validRows(ky)
		clear(row[:top*w])
		clear(row[bottom*w:])
		shift := (ky-l.pad)*w + kx - l.pad
		// Outputs whose input would fall before or after the plane are
		// padding columns of the first or last valid row: cleared below.
		a, b := max(top*w, -shift), min(bottom*w, len(plane)-shift)
		if a < b {
			copy(row[a:b], plane[a+shift:b+shift])
		}
		if lo, hi := l.colLo[kx], l.colHi[kx]; lo > 0 || hi < w {
			for oy := top; oy < bottom; oy++ {
				r := row[oy*w:][:w]
				clear(r[:lo])
				clear(r[hi:])
			}
		}
		return
	}
	lo, hi := l.colLo[kx], l.colHi[kx]
	shift := kx - l.pad // input column of output column ox is ox·stride + shift
	for oy := range out.H {
		dst := row[oy*out.W:][:out.W]
		iy := oy*l.stride - l.pad + ky
		if iy < 0 || iy >= in.H {
			clear(dst)
			continue
		}
		src := plane[iy*in.W:][:in.W]
		clear(dst[:lo])
		clear(dst[hi:])
		if l.stride == 1 {
			if lo < hi {
				// A loop rather than copy: rows are a few dozen values, too
				// short to pay for memmove's call.
				d, s := dst[lo:hi], src[lo+shift:hi+shift]
				s = s[:len(d)]
				for j, v := range s {
					d[j] = v
				}
			}
			continue
		}
		for ox := lo; ox < hi; ox++ {
			dst[ox] = src[ox*l.stride+shift]
		}
	}
}

// col2im adds the gradients of unrolled patches, col as im2col lays it out,
// back onto the inputs they were read from: l.dx for samples s.
func (l *Conv2d[F]) col2im(col []F, s span) {
	clear(l.dx[s.lo*l.in.Size() : s.hi*l.in.Size()])
	l.eachPatchRow(col, l.dx, s, func(row, plane []F, ky, kx int) { l.foldRow(plane, row, ky, kx) })
}

// foldRow adds one kernel offset's output gradients onto the input plane,
// the transpose of unrollRow. Where the width stays the same it first zeroes
// the gradients of the padding columns (row is scratch, used up here), so
// that the rest is one contiguous sum.
func (l *Conv2d[F]) foldRow(plane, row []F, ky, kx int) {
	in, out := l.in, l.out
	lo, hi := l.colLo[kx], l.colHi[kx]
	if l.sameWidth() {
		w := in.W
		top, bottom := l.validRows(ky)
		if lo > 0 || hi < w {
			for oy := top; oy < bottom; oy++ {
				r := row[oy*w:][:w]
				clear(r[:lo])
				clear(r[hi:])
			}
		}
		shift := (ky-l.pad)*w + kx - l.pad
		a, b := max(top*w, -shift), min(bottom*w, len(plane)-shift)
		if a < b {
			accumulate(plane[a+shift:b+shift], row[a:b])
		}
		return
	}
	shift := kx - l.pad
	for oy := range out.H {
		iy := oy*l.stride - l.pad + ky
		if iy < 0 || iy >= in.H {
			continue
		}
		src := row[oy*out.W:][:out.W]
		dst := plane[iy*in.W:][:in.W]
		if l.stride == 1 {
			if lo < hi {
				accumulate(dst[lo+shift:hi+shift], src[lo:hi])
			}
			continue
		}
		for ox := lo; ox < hi; ox++ {
			dst[ox*l.stride+shift] += src[ox]
		}
	}
}

// accumulate adds src into dst element by element; dst is at least as long.
func accumulate[F Float](dst, src []F) {
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] += v
	}
}
