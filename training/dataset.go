package training

import (
	"fmt"
	"slices"
)

// Dataset is a labelled set of samples held row-major in one float32 slice:
// sample i is X[i*Dim:(i+1)*Dim] with label Y[i] in [0, Classes). Shape says
// how a sample's Dim values are laid out (C×H×W, D, T); Dim is always
// Shape.Size(), the flat feature count that models reading a flat vector and
// every per-row loop use.
type Dataset struct {
	Name    string
	X       []float32
	Y       []int32
	Shape   Shape
	Dim     int
	Classes int
	// Vocab is the character of each token id for text data (the windows
	// of LoadText, whose Classes is len(Vocab)); nil for other data.
	Vocab Vocab
}

// Len returns the number of samples.
func (d *Dataset) Len() int { return len(d.Y) }

// Row returns sample i's features (a view, not a copy).
func (d *Dataset) Row(i int) []float32 { return d.X[i*d.Dim : (i+1)*d.Dim] }

// Validate checks that the shape fields agree with the data, so that a bad
// loader fails here and not with an index panic deep inside a model.
func (d *Dataset) Validate() error {
	if err := d.Shape.Validate(); err != nil {
		return fmt.Errorf("training: dataset %q: %w", d.Name, err)
	}
	switch {
	case d.Dim != d.Shape.Size():
		return fmt.Errorf("training: dataset %q: feature dimension %d, but samples of shape %s hold %d values", d.Name, d.Dim, d.Shape, d.Shape.Size())
	case d.Classes < 2:
		return fmt.Errorf("training: dataset %q: %d classes, want at least 2", d.Name, d.Classes)
	case len(d.X) != len(d.Y)*d.Dim:
		return fmt.Errorf("training: dataset %q: %d feature values for %d samples of shape %s (%d values each)", d.Name, len(d.X), len(d.Y), d.Shape, d.Dim)
	}
	for i, y := range d.Y {
		if y < 0 || int(y) >= d.Classes {
			return fmt.Errorf("training: dataset %q: sample %d has label %d, want 0..%d", d.Name, i, y, d.Classes-1)
		}
	}
	return nil
}

// Subset returns a new dataset holding the samples at idx, in that order, of
// the same shape (features are copied, so the subset owns its memory).
func (d *Dataset) Subset(idx []int) *Dataset {
	s := &Dataset{Name: d.Name, Shape: slices.Clone(d.Shape), Dim: d.Dim, Classes: d.Classes, Vocab: d.Vocab,
		X: make([]float32, 0, len(idx)*d.Dim), Y: make([]int32, 0, len(idx))}
	for _, i := range idx {
		s.X = append(s.X, d.Row(i)...)
		s.Y = append(s.Y, d.Y[i])
	}
	return s
}

// ClassCounts returns how many samples carry each label.
func (d *Dataset) ClassCounts() []int {
	c := make([]int, d.Classes)
	for _, y := range d.Y {
		c[y]++
	}
	return c
}
