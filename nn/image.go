package nn

import "fmt"

// Image is the layout of one sample of a convolutional layer: C channels of
// H×W values, row-major (channel, then row, then column), as a PyTorch
// tensor of shape N×C×H×W holds each of its N samples.
type Image struct{ C, H, W int }

// Size is the number of values in one sample.
func (im Image) Size() int { return im.C * im.H * im.W }

// String writes the layout as C×H×W.
func (im Image) String() string { return fmt.Sprintf("%d×%d×%d", im.C, im.H, im.W) }

func (im Image) validate() error {
	if im.C < 1 || im.H < 1 || im.W < 1 {
		return fmt.Errorf("nn: image %s: want every dimension ≥ 1", im)
	}
	return nil
}

// sweep returns the output size of sliding a kh×kw kernel with strides
// sh, sw over in padded by pad on every side, PyTorch's floor rule:
// (H + 2·pad − kh)/sh + 1.
func sweep(layer string, in Image, kh, kw, sh, sw, pad int) (outH, outW int, err error) {
	if err := in.validate(); err != nil {
		return 0, 0, fmt.Errorf("nn: %s: %w", layer, err)
	}
	switch {
	case kh < 1 || kw < 1:
		return 0, 0, fmt.Errorf("nn: %s: kernel %d×%d, want ≥ 1", layer, kh, kw)
	case sh < 1 || sw < 1:
		return 0, 0, fmt.Errorf("nn: %s: stride %d×%d, want ≥ 1", layer, sh, sw)
	case pad < 0:
		return 0, 0, fmt.Errorf("nn: %s: padding %d, want ≥ 0", layer, pad)
	case in.H+2*pad < kh || in.W+2*pad < kw:
		return 0, 0, fmt.Errorf("nn: %s: a %d×%d kernel does not fit a %s input padded by %d", layer, kh, kw, in, pad)
	}
	return (in.H+2*pad-kh)/sh + 1, (in.W+2*pad-kw)/sw + 1, nil
}
