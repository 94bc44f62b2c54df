package training

import (
	"slices"
	"strings"
	"testing"
)

func TestShapeSizeAndString(t *testing.T) {
	for _, c := range []struct {
		shape Shape
		size  int
		text  string
	}{
		{Shape{1, 28, 28}, 784, "1×28×28"},
		{Flat(64), 64, "64"},
		{Shape{256}, 256, "256"},
		{nil, 0, "()"},
	} {
		if c.shape.Size() != c.size || c.shape.String() != c.text {
			t.Errorf("%v: size %d, text %q; want %d, %q", []int(c.shape), c.shape.Size(), c.shape.String(), c.size, c.text)
		}
	}
}

func TestShapeValidate(t *testing.T) {
	if err := (Shape{3, 32, 32}).Validate(); err != nil {
		t.Errorf("3×32×32: %v", err)
	}
	for _, c := range []struct {
		shape Shape
		want  string
	}{
		{nil, "no dimensions"},
		{Shape{1, 0, 28}, "1×0×28 has a dimension of 0"},
		{Shape{-4}, "-4"},
		{Shape{1 << 20, 1 << 20}, "more than"},
	} {
		if err := c.shape.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one saying %q", []int(c.shape), err, c.want)
		}
	}
}

// imageDataset holds n 1×2×3 images whose values count up from 0.
func imageDataset(n int) *Dataset {
	d := &Dataset{Name: "img", Shape: Shape{1, 2, 3}, Dim: 6, Classes: 2}
	for i := range n {
		for j := range 6 {
			d.X = append(d.X, float32(6*i+j))
		}
		d.Y = append(d.Y, int32(i%2))
	}
	return d
}

func TestSubsetKeepsShape(t *testing.T) {
	d := imageDataset(4)
	s := d.Subset([]int{3, 1})
	if !slices.Equal(s.Shape, d.Shape) || s.Dim != 6 || s.Len() != 2 {
		t.Fatalf("subset: shape %s, dim %d, %d samples; want 1×2×3, 6, 2", s.Shape, s.Dim, s.Len())
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := []float32{18, 19, 20, 21, 22, 23}; !slices.Equal(s.Row(0), want) {
		t.Errorf("first subset sample %v, want %v", s.Row(0), want)
	}
	s.Shape[0] = 9
	if d.Shape[0] != 1 {
		t.Error("the subset shares its shape with the original")
	}
}

func TestValidateChecksShapeAgainstData(t *testing.T) {
	if err := imageDataset(3).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*Dataset)
		want string
	}{
		{"no shape", func(d *Dataset) { d.Shape = nil }, "no dimensions"},
		{"shape disagrees with Dim", func(d *Dataset) { d.Shape = Shape{1, 2, 2} }, "feature dimension 6, but samples of shape 1×2×2 hold 4 values"},
		{"values short of shape × count", func(d *Dataset) { d.X = d.X[:17] }, "17 feature values for 3 samples of shape 1×2×3"},
		{"zero dimension", func(d *Dataset) { d.Shape, d.Dim = Shape{0, 6}, 0 }, "has a dimension of 0"},
	} {
		d := imageDataset(3)
		c.edit(d)
		err := d.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `dataset "img"`) {
			t.Errorf("%s: error %v, want one naming the dataset and saying %q", c.name, err, c.want)
		}
	}
}

func TestLoadersReportSampleShapes(t *testing.T) {
	csv, err := ReadCSV(strings.NewReader("1,2,3,0\n4,5,6,1\n"), "rows.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(csv.Shape, Shape{3}) {
		t.Errorf("CSV rows of 3 features: shape %s, want flat 3", csv.Shape)
	}
	train, test, err := LoadDataset("digits", "", 0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Dataset{train, test} {
		if !slices.Equal(d.Shape, Shape{1, 8, 8}) || d.Dim != 64 {
			t.Errorf("split and standardized digits: shape %s, dim %d; want 1×8×8, 64", d.Shape, d.Dim)
		}
	}
	// An IDX file of n×D rows (not images) keeps its samples flat.
	rows := encodeIDX(IDXFloat32, []int{2, 5}, make([]float64, 10))
	labels := encodeIDX(IDXUint8, []int{2}, []float64{0, 1})
	flat, _, err := LoadIDXDir(writeIDXDir(t, [4][]byte{rows, labels, rows, labels}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(flat.Shape, Shape{5}) {
		t.Errorf("IDX rows of 5 values: shape %s, want flat 5", flat.Shape)
	}
}
