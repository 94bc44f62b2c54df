package training

import (
	"math"
	"testing"
)

// columnStats returns the mean and population standard deviation of column j.
func columnStats(d *Dataset, j int) (mean, std float64) {
	for i := range d.Len() {
		mean += float64(d.Row(i)[j])
	}
	mean /= float64(d.Len())
	for i := range d.Len() {
		dev := float64(d.Row(i)[j]) - mean
		std += dev * dev
	}
	return mean, math.Sqrt(std / float64(d.Len()))
}

func TestStandardizerPerFeature(t *testing.T) {
	d, err := Digits()
	if err != nil {
		t.Fatal(err)
	}
	s := FitStandardizer(d, true)
	if len(s.Mean) != 64 || len(s.Std) != 64 {
		t.Fatalf("%d means and %d stds, want 64 each", len(s.Mean), len(s.Std))
	}
	s.Apply(d)
	for j := range d.Dim {
		mean, std := columnStats(d, j)
		if math.Abs(mean) > 1e-4 {
			t.Errorf("feature %d: mean %v after Apply, want 0", j, mean)
		}
		if s.Std[j] == 1 && std < 1e-6 { // a constant column (digits has blank border pixels)
			continue
		}
		if math.Abs(std-1) > 1e-4 {
			t.Errorf("feature %d: std %v after Apply, want 1", j, std)
		}
	}
	for i, v := range d.X {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("value %d is %v after Apply, want finite", i, v)
		}
	}
}

func TestStandardizerConstantColumn(t *testing.T) {
	d := &Dataset{Name: "c", Shape: Flat(2), Dim: 2, Classes: 2, X: []float32{5, 1, 5, 2, 5, 3}, Y: []int32{0, 1, 0}}
	s := FitStandardizer(d, true)
	if s.Mean[0] != 5 || s.Std[0] != 1 {
		t.Errorf("constant column: mean %v std %v, want 5 and 1", s.Mean[0], s.Std[0])
	}
	s.Apply(d)
	for i := range d.Len() {
		if d.Row(i)[0] != 0 {
			t.Errorf("constant column sample %d = %v, want 0", i, d.Row(i)[0])
		}
	}
}

func TestStandardizerGlobal(t *testing.T) {
	d := &Dataset{Name: "g", Shape: Flat(2), Dim: 2, Classes: 2, X: []float32{0, 2, 4, 6}, Y: []int32{0, 1}}
	s := FitStandardizer(d, false)
	if len(s.Mean) != 1 || s.Mean[0] != 3 || math.Abs(float64(s.Std[0])-math.Sqrt(5)) > 1e-6 {
		t.Fatalf("got %+v, want one mean 3 and one std √5", s)
	}
	test := &Dataset{Name: "t", Shape: Flat(2), Dim: 2, Classes: 2, X: []float32{3, 3}, Y: []int32{1}}
	s.Apply(test) // fitted statistics carry over to other sets unchanged
	if test.X[0] != 0 || test.X[1] != 0 {
		t.Errorf("applied to the training mean: %v, want zeros", test.X)
	}
	s.Apply(d)
	var sum, sumSq float64
	for _, v := range d.X {
		sum += float64(v)
		sumSq += float64(v) * float64(v)
	}
	if mean, variance := sum/4, sumSq/4; math.Abs(mean) > 1e-6 || math.Abs(variance-1) > 1e-6 {
		t.Errorf("mean %v variance %v after Apply, want 0 and 1", mean, variance)
	}
}
