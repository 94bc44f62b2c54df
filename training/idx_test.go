package training

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// encodeIDX builds an IDX file of the given type and shape holding values.
func encodeIDX(typ IDXType, dims []int, values []float64) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, byte(typ), byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	for _, v := range values {
		switch typ {
		case IDXUint8:
			b.WriteByte(uint8(v))
		case IDXInt8:
			b.WriteByte(byte(int8(v)))
		case IDXInt16:
			binary.Write(&b, binary.BigEndian, int16(v))
		case IDXInt32:
			binary.Write(&b, binary.BigEndian, int32(v))
		case IDXFloat32:
			binary.Write(&b, binary.BigEndian, float32(v))
		case IDXFloat64:
			binary.Write(&b, binary.BigEndian, v)
		}
	}
	return b.Bytes()
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadIDXRoundTrip(t *testing.T) {
	tests := []struct {
		typ    IDXType
		values []float64
	}{
		{IDXUint8, []float64{0, 1, 2, 127, 128, 255}},
		{IDXInt8, []float64{-128, -1, 0, 1, 2, 127}},
		{IDXInt16, []float64{-32768, -300, 0, 1, 300, 32767}},
		{IDXInt32, []float64{-1 << 24, -70000, 0, 1, 70000, 1 << 24}},
		{IDXFloat32, []float64{-1.5, -0.25, 0, 0.125, 3.5, 1e30}},
		{IDXFloat64, []float64{-1.5, -0.25, 0, 0.125, 3.5, 1e30}},
	}
	for _, tt := range tests {
		plain := encodeIDX(tt.typ, []int{2, 3}, tt.values)
		for _, compressed := range []bool{false, true} {
			data := plain
			if compressed {
				data = gzipped(t, plain)
			}
			name := tt.typ.String()
			if compressed {
				name += ".gz"
			}
			t.Run(name, func(t *testing.T) {
				a, err := ReadIDX(bytes.NewReader(data), name)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(a.Dims, []int{2, 3}) || a.Type != tt.typ {
					t.Fatalf("dims %v type %v, want [2 3] %v", a.Dims, a.Type, tt.typ)
				}
				for i, v := range tt.values {
					if a.Data[i] != float32(v) {
						t.Errorf("element %d = %v, want %v", i, a.Data[i], float32(v))
					}
				}
			})
		}
	}
}

func TestReadIDXRejectsBadInput(t *testing.T) {
	good := encodeIDX(IDXUint8, []int{2, 3}, []float64{1, 2, 3, 4, 5, 6})
	gzTruncated := gzipped(t, good)
	gzTruncated = gzTruncated[:len(gzTruncated)-12]
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "reading the 4-byte magic number: file ends early"},
		{"bad magic", []byte{1, 0, 8, 1, 0, 0, 0, 0}, "bad magic number 01 00 08 01"},
		{"unknown type", []byte{0, 0, 0x0A, 1, 0, 0, 0, 0}, "unknown element type 0x0A"},
		{"no dims", []byte{0, 0, 8, 0}, "header declares 0 dimensions"},
		{"short header", []byte{0, 0, 8, 3, 0, 0, 0, 1}, "reading 3 dimension sizes: file ends early"},
		{"truncated data", good[:len(good)-2], "header declares 2×3 uint8 = 6 bytes but the file holds 4"},
		{"truncated wide type", encodeIDX(IDXFloat64, []int{2, 3}, []float64{1, 2}), "header declares 2×3 float64 = 48 bytes but the file holds 16"},
		{"trailing data", append(slices.Clone(good), 7), "trailing bytes after the 6 data bytes"},
		{"truncated gzip", gzTruncated, "the file is truncated"},
		{"absurd dims", encodeIDX(IDXUint8, []int{1 << 20, 1 << 20, 1 << 20}, nil), "header declares 1048576×1048576 elements, more than the limit of 2147483648"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadIDX(bytes.NewReader(tt.data), "x/f-idx")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), `training: IDX file "x/f-idx": `) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to name the file and say %q", err, tt.want)
			}
		})
	}
}

// TestReadIDXDoesNotTrustDeclaredSize checks that a header declaring a
// gigabyte of data that is not there costs no gigabyte of memory.
func TestReadIDXDoesNotTrustDeclaredSize(t *testing.T) {
	data := encodeIDX(IDXFloat64, []int{1 << 15, 1 << 15}, []float64{1, 2, 3}) // declares 8 GiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadIDX(bytes.NewReader(data), "huge")
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "= 8589934592 bytes but the file holds 24") {
		t.Fatalf("error %v, want a truncation error", err)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 8<<20 {
		t.Errorf("allocated %d bytes for a 44-byte file", allocated)
	}
}

// writeIDXDir writes the four MNIST-named files into a new directory;
// a nil entry leaves that file out.
func writeIDXDir(t *testing.T, files [4][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for i, data := range files {
		if data == nil {
			continue
		}
		name := idxFileBases[i]
		if i%2 == 1 { // store the labels compressed to cover both forms
			name += ".gz"
			data = gzipped(t, data)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadIDXDir(t *testing.T) {
	trainImages := encodeIDX(IDXUint8, []int{3, 2, 2}, []float64{0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8})
	trainLabels := encodeIDX(IDXUint8, []int{3}, []float64{0, 4, 1})
	testImages := encodeIDX(IDXUint8, []int{2, 2, 2}, []float64{9, 9, 9, 9, 0, 0, 0, 0})
	testLabels := encodeIDX(IDXUint8, []int{2}, []float64{6, 2})
	dir := writeIDXDir(t, [4][]byte{trainImages, trainLabels, testImages, testLabels})

	train, test, err := LoadIDXDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Dataset{train, test} {
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if d.Dim != 4 || d.Shape.String() != "1×2×2" || d.Classes != 7 || d.Name != filepath.Base(dir) {
			t.Errorf("%d features of shape %s, %d classes, name %q; want 4 of 1×2×2 (one channel), 7 (max test label 6 + 1), %q",
				d.Dim, d.Shape, d.Classes, d.Name, filepath.Base(dir))
		}
	}
	if train.Len() != 3 || test.Len() != 2 {
		t.Errorf("%d train and %d test samples, want 3 and 2", train.Len(), test.Len())
	}
	if want := []float32{0, 1, 0.2, 0.4}; !slices.Equal(train.Row(0), want) {
		t.Errorf("first image %v, want %v (scaled by 1/255)", train.Row(0), want)
	}
	if !slices.Equal(train.Y, []int32{0, 4, 1}) || !slices.Equal(test.Y, []int32{6, 2}) {
		t.Errorf("labels %v and %v, want [0 4 1] and [6 2]", train.Y, test.Y)
	}
}

func TestLoadIDXDirErrors(t *testing.T) {
	images := func(dims ...int) []byte { return encodeIDX(IDXUint8, dims, make([]float64, dims[0]*dims[1]*dims[2])) }
	labels := func(n int) []byte { return encodeIDX(IDXUint8, []int{n}, make([]float64, n)) }
	tests := []struct {
		name  string
		files [4][]byte
		want  string
	}{
		{"missing test labels", [4][]byte{images(3, 2, 2), labels(3), images(2, 2, 2), nil},
			"no file named t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz"},
		{"count mismatch", [4][]byte{images(3, 2, 2), labels(4), images(2, 2, 2), labels(2)},
			"train-images-idx3-ubyte holds 3 images but train-labels-idx1-ubyte holds 4 labels"},
		{"image dims differ", [4][]byte{images(3, 2, 2), labels(3), images(2, 2, 3), labels(2)},
			"train images are 2×2 but test images are 2×3"},
		{"labels not 1-D", [4][]byte{images(3, 2, 2), encodeIDX(IDXUint8, []int{3, 1}, make([]float64, 3)), images(2, 2, 2), labels(2)},
			"train-labels-idx1-ubyte is 3×1, want 1-D labels"},
		{"images 1-D", [4][]byte{encodeIDX(IDXUint8, []int{3}, make([]float64, 3)), labels(3), images(2, 2, 2), labels(2)},
			"train-images-idx3-ubyte is 3, want at least 2 dimensions"},
		{"negative label", [4][]byte{images(3, 2, 2), labels(3), images(2, 2, 2), encodeIDX(IDXInt8, []int{2}, []float64{1, -3})},
			"t10k-labels-idx1-ubyte: label 1: -3 is negative"},
		{"fractional label", [4][]byte{images(3, 2, 2), labels(3), images(2, 2, 2), encodeIDX(IDXFloat32, []int{2}, []float64{1.5, 0})},
			"t10k-labels-idx1-ubyte: label 0: 1.5 is not an integer"},
		{"huge label", [4][]byte{images(3, 2, 2), labels(3), images(2, 2, 2), encodeIDX(IDXInt32, []int{2}, []float64{1, 1e9})},
			"exceeds the largest supported label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := LoadIDXDir(writeIDXDir(t, tt.files))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to say %q", err, tt.want)
			}
		})
	}

	missing := filepath.Join(t.TempDir(), "nowhere")
	if _, _, err := LoadIDXDir(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing directory: error %v, want it to name %s", err, missing)
	}
}

func TestLoadIDXDirMNIST(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "mnist")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("MNIST not found at %s (the shared data folder beside the module): %v", dir, err)
	}
	train, test, err := LoadIDXDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || test.Len() != 10000 || train.Dim != 784 || test.Dim != 784 || train.Classes != 10 || test.Classes != 10 {
		t.Fatalf("train %d×%d, test %d×%d, %d classes; want 60000×784, 10000×784, 10",
			train.Len(), train.Dim, test.Len(), test.Dim, train.Classes)
	}
	if err := train.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Dataset{train, test} {
		if !slices.Equal(d.Shape, Shape{1, 28, 28}) {
			t.Errorf("MNIST samples have shape %s, want 1×28×28", d.Shape)
		}
	}
	if want := []int32{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}; !slices.Equal(train.Y[:10], want) {
		t.Errorf("first train labels %v, want %v", train.Y[:10], want)
	}
	if want := []int32{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}; !slices.Equal(test.Y[:10], want) {
		t.Errorf("first test labels %v, want %v", test.Y[:10], want)
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range test.X {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo != 0 || hi != 1 {
		t.Errorf("test pixels span [%v, %v], want [0, 1]", lo, hi)
	}
}
