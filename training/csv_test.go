package training

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadCSV(t *testing.T) {
	want := &Dataset{Name: "toy", X: []float32{1, 2.5, -3, 4e-1, 0, 0}, Y: []int32{0, 3, 1}, Shape: Flat(2), Dim: 2, Classes: 4}
	tests := []struct {
		name string
		text string
	}{
		{"plain", "1,2.5,0\n-3,0.4,3\n0,0,1\n"},
		{"header", "a,b,label\n1,2.5,0\n-3,0.4,3\n0,0,1\n"},
		{"spaces and blank lines", "x1, x2, y\n\n1, 2.5, 0\n-3 ,4e-1, 3\n0,0,1.0"},
		{"semicolon", "1;2.5;0\n-3;0.4;3\n0;0;1\n"},
		{"tab", "f1\tf2\tclass\n1\t2.5\t0\n-3\t0.4\t3\n0\t0\t1\n"},
		{"CRLF", "1,2.5,0\r\n-3,0.4,3\r\n0,0,1\r\n"},
	}
	for _, tt := range tests {
		for _, compressed := range []bool{false, true} {
			data := []byte(tt.text)
			name := tt.name
			if compressed {
				data, name = gzipped(t, data), name+" gzip"
			}
			t.Run(name, func(t *testing.T) {
				d, err := ReadCSV(bytes.NewReader(data), "data/toy.csv.gz")
				if err != nil {
					t.Fatal(err)
				}
				if d.Name != want.Name || !slices.Equal(d.Shape, want.Shape) || d.Dim != want.Dim || d.Classes != want.Classes ||
					!slices.Equal(d.X, want.X) || !slices.Equal(d.Y, want.Y) {
					t.Errorf("got %+v, want %+v", d, want)
				}
			})
		}
	}
}

func TestReadCSVClassesAtLeastTwo(t *testing.T) {
	d, err := ReadCSV(strings.NewReader("1,0\n2,0\n"), "one-class.csv")
	if err != nil {
		t.Fatal(err)
	}
	if d.Classes != 2 || d.Validate() != nil {
		t.Errorf("%d classes, want 2 so the dataset validates", d.Classes)
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", "no data rows"},
		{"header only", "a,b,label\n", "no data rows"},
		{"one column", "1\n2\n", "line 1 has 1 column; want feature columns then a label column"},
		{"ragged short", "1,2,0\n3,4,1\n5,1\n", "line 3 has 2 columns but line 1 has 3"},
		{"ragged long after header", "a,b,y\n1,2,0\n3,4,5,1\n", "line 3 has 4 columns but line 1 has 3"},
		{"non-numeric feature", "1,2,0\n3,x,1\n", `line 2, column 2: feature "x" is not a finite number`},
		{"empty feature", "1,2,0\n,4,1\n", `line 2, column 1: feature "" is not a finite number`},
		{"NaN feature", "1,2,0\n3,NaN,1\n", `line 2, column 2: feature "NaN" is not a finite number`},
		{"non-integer label", "1,2,0\n3,4,1.5\n", "line 2, column 3: label 1.5 is not an integer"},
		{"negative label", "a,b,y\n1,2,0\n3,4,-2\n", "line 3, column 3: label -2 is negative"},
		{"non-numeric label after header", "a,b,y\n1,2,cat\n", `line 2, column 3: label "cat" is not a number`},
		{"huge label", "1,2,0\n3,4,99999999\n", "line 2, column 3: label 99999999 exceeds the largest supported label"},
		{"bad quote", "1,2,0\n3,\"4,1\n", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tt.text), "x/data.csv")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), `training: CSV file "x/data.csv": `) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to name the file and say %q", err, tt.want)
			}
		})
	}
}

func TestReadCSVFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iris.csv")
	if err := os.WriteFile(path, []byte("1,2,0\n3,4,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := ReadCSVFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "iris" || d.Len() != 2 {
		t.Errorf("name %q with %d samples, want iris with 2", d.Name, d.Len())
	}
	missing := filepath.Join(t.TempDir(), "missing.csv")
	if _, err := ReadCSVFile(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v, want it to name %s", err, missing)
	}
}
