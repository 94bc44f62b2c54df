package training

import "fmt"

// Shape is the layout of one sample's values, outermost dimension first:
// C×H×W for images (an MNIST digit is 1×28×28, an embedded digit 1×8×8), D
// for a flat feature row (a CSV line), T for a sequence of T tokens. The
// values themselves stay one flat row-major float32 run per sample, so a
// Shape only tells a model how to read them; models that see a flat vector
// (softmax, MLP) use its Size.
type Shape []int

// Flat is the shape of a row of n features.
func Flat(n int) Shape { return Shape{n} }

// Size is the number of values in one sample: the product of the dimensions,
// 0 for an empty shape.
func (s Shape) Size() int {
	if len(s) == 0 {
		return 0
	}
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// String writes the shape as people write array shapes: 1×28×28.
func (s Shape) String() string {
	if len(s) == 0 {
		return "()"
	}
	return formatDims(s)
}

// maxSampleValues caps a sample's size, so that a shape read from a file
// cannot overflow Size or plan an absurd model.
const maxSampleValues = 1 << 30

// Validate reports a shape that no sample can have: no dimensions, one below
// 1, or more values than a sample may hold. Its errors name the shape but not
// where it came from; callers add that.
func (s Shape) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("sample shape has no dimensions")
	}
	n := 1
	for _, d := range s {
		if d < 1 {
			return fmt.Errorf("sample shape %s has a dimension of %d, want each ≥ 1", s, d)
		}
		if n > maxSampleValues/d {
			return fmt.Errorf("sample shape %s holds more than %d values", s, maxSampleValues)
		}
		n *= d
	}
	return nil
}
