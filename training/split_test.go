package training

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// taggedDataset has n samples whose single feature is the sample's index,
// so that a split's output can be traced back to its input.
func taggedDataset(labels []int32, classes int) *Dataset {
	d := &Dataset{Name: "tagged", Shape: Flat(1), Dim: 1, Classes: classes, Y: slices.Clone(labels)}
	for i := range labels {
		d.X = append(d.X, float32(i))
	}
	return d
}

// skewedLabels returns n labels over classes in which class c is about
// c+1 times as common as class 0, so that stratification has something to
// preserve and partitioners see unequal classes.
func skewedLabels(n, classes int) []int32 {
	weight := classes * (classes + 1) / 2
	labels := make([]int32, n)
	for i := range labels {
		r := i % weight
		c := 0
		for (c+1)*(c+2)/2 <= r {
			c++
		}
		labels[i] = int32(c)
	}
	return labels
}

func TestSplitTrainTestIsStratified(t *testing.T) {
	d := taggedDataset(skewedLabels(1000, 6), 6)
	const fraction = 0.3
	train, test, err := SplitTrainTest(d, fraction, 7)
	if err != nil {
		t.Fatal(err)
	}
	if test.Len() != 300 || train.Len() != 700 {
		t.Errorf("%d train and %d test samples, want 700 and 300", train.Len(), test.Len())
	}
	all, testCounts := d.ClassCounts(), test.ClassCounts()
	for c := range all {
		if math.Abs(float64(testCounts[c])-fraction*float64(all[c])) > 1 {
			t.Errorf("class %d: %d of %d samples in test, want %.1f ± 1", c, testCounts[c], all[c], fraction*float64(all[c]))
		}
	}
	seen := make([]int, d.Len())
	for _, part := range []*Dataset{train, test} {
		if err := part.Validate(); err != nil {
			t.Fatal(err)
		}
		for i := range part.Len() {
			index := int(part.Row(i)[0])
			seen[index]++
			if part.Y[i] != d.Y[index] {
				t.Fatalf("sample %d carries label %d, want %d", index, part.Y[i], d.Y[index])
			}
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("sample %d appears %d times across train and test, want once", i, n)
		}
	}
}

func TestSplitTrainTestIsDeterministic(t *testing.T) {
	d := taggedDataset(skewedLabels(200, 3), 3)
	_, a, _ := SplitTrainTest(d, 0.25, 1)
	_, b, _ := SplitTrainTest(d, 0.25, 1)
	_, c, _ := SplitTrainTest(d, 0.25, 2)
	if !slices.Equal(a.X, b.X) {
		t.Error("the same seed gave different test sets")
	}
	if slices.Equal(a.X, c.X) {
		t.Error("different seeds gave the same test set")
	}
}

func TestSplitTrainTestErrors(t *testing.T) {
	d := taggedDataset([]int32{0, 1, 0, 1}, 2)
	tests := []struct {
		name     string
		d        *Dataset
		fraction float64
		want     string
	}{
		{"zero", d, 0, "test fraction 0, want 0 < f < 1"},
		{"one", d, 1, "test fraction 1, want 0 < f < 1"},
		{"negative", d, -0.2, "test fraction -0.2"},
		{"NaN", d, math.NaN(), "test fraction NaN"},
		{"empty test", d, 0.05, "leaves 4 for training and 0 for testing"},
		{"empty train", d, 0.95, "leaves 0 for training and 4 for testing"},
		{"invalid dataset", &Dataset{Name: "bad", Shape: Flat(1), Dim: 1, Classes: 2, X: []float32{1}, Y: []int32{5}}, 0.5, "label 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := SplitTrainTest(tt.d, tt.fraction, 1)
			if err == nil || !strings.HasPrefix(err.Error(), "training: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to say %q", err, tt.want)
			}
		})
	}
}
