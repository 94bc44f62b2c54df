package training

import (
	"fmt"
	"math"
)

// minStd is the standard deviation below which a feature counts as constant:
// it is centred but not scaled, so constant columns (the always-blank border
// pixels of digit images) stay finite instead of blowing up to ±Inf or NaN.
const minStd = 1e-6

// Standardizer maps features to zero mean and unit variance with statistics
// fitted on one set (the training set) and then applied unchanged to others,
// so that test data sees exactly the transform the model was trained under.
// Mean and Std have one entry per feature, or a single entry for one global
// transform of all values.
type Standardizer struct {
	Mean, Std []float32
}

// FitStandardizer computes the mean and (population) standard deviation of
// d's features: per feature, or with perFeature false one pair over all
// values, which keeps relative intensities between pixels. A standard
// deviation below 1e-6 is stored as 1.
func FitStandardizer(d *Dataset, perFeature bool) *Standardizer {
	width := 1
	if perFeature && d.Dim > 0 {
		width = d.Dim
	}
	sum := make([]float64, width)
	sumSq := make([]float64, width)
	for i, v := range d.X {
		j := i % width
		sum[j] += float64(v)
	}
	count := float64(len(d.X) / width)
	s := &Standardizer{Mean: make([]float32, width), Std: make([]float32, width)}
	for j := range sum {
		if count > 0 {
			sum[j] /= count
		}
		s.Mean[j] = float32(sum[j])
	}
	// A second pass about the mean avoids the cancellation of Σx² − n·mean².
	for i, v := range d.X {
		j := i % width
		dev := float64(v) - sum[j]
		sumSq[j] += dev * dev
	}
	for j := range sumSq {
		std := 0.0
		if count > 0 {
			std = math.Sqrt(sumSq[j] / count)
		}
		if std < minStd {
			std = 1
		}
		s.Std[j] = float32(std)
	}
	return s
}

// Apply standardizes d's features in place. It panics if s was fitted per
// feature on data of another dimension: that is a wiring mistake, caught by
// the first call, not a property of any input file.
func (s *Standardizer) Apply(d *Dataset) {
	width := len(s.Mean)
	if width != 1 && width != d.Dim {
		panic(fmt.Sprintf("training: Standardizer fitted on %d features applied to dataset %q of dimension %d", width, d.Name, d.Dim))
	}
	inv := make([]float32, width)
	for j, std := range s.Std {
		inv[j] = 1 / std
	}
	for i := range d.X {
		j := i % width
		d.X[i] = (d.X[i] - s.Mean[j]) * inv[j]
	}
}
