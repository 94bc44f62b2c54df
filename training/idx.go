package training

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// IDXType is the element type code of an IDX file (the third magic byte).
type IDXType byte

// The element types the IDX format defines; all multi-byte types are big-endian.
const (
	IDXUint8   IDXType = 0x08
	IDXInt8    IDXType = 0x09
	IDXInt16   IDXType = 0x0B
	IDXInt32   IDXType = 0x0C
	IDXFloat32 IDXType = 0x0D
	IDXFloat64 IDXType = 0x0E
)

// String names the type as Go would, e.g. "uint8".
func (t IDXType) String() string {
	switch t {
	case IDXUint8:
		return "uint8"
	case IDXInt8:
		return "int8"
	case IDXInt16:
		return "int16"
	case IDXInt32:
		return "int32"
	case IDXFloat32:
		return "float32"
	case IDXFloat64:
		return "float64"
	}
	return fmt.Sprintf("IDXType(0x%02X)", byte(t))
}

// size is the number of bytes per element, 0 for an unknown type.
func (t IDXType) size() int {
	switch t {
	case IDXUint8, IDXInt8:
		return 1
	case IDXInt16:
		return 2
	case IDXInt32, IDXFloat32:
		return 4
	case IDXFloat64:
		return 8
	}
	return 0
}

// IDXArray is the content of one IDX file: an n-dimensional array held
// row-major, converted to float32 whatever its stored type (float64 loses
// precision, int32 beyond 2^24 loses exactness) so that callers handle one
// element type.
type IDXArray struct {
	Dims []int
	Data []float32
	Type IDXType // the stored element type, e.g. to know that uint8 pixels span 0..255
}

// maxIDXElements caps the element count a header may declare, so that a
// corrupt or hostile header cannot make the reader plan an absurd allocation.
const maxIDXElements = 1 << 31

// initialIDXElements bounds the capacity reserved before any data has
// arrived; beyond it, memory grows only as elements are actually read.
const initialIDXElements = 1 << 20

// idxChunkElements is how many elements readIDXData reads at a time.
const idxChunkElements = 1 << 16

// ReadIDX decodes an IDX array from r, gzip-compressed or plain (told apart
// by the gzip magic bytes). name says where the bytes come from in errors.
func ReadIDX(r io.Reader, name string) (*IDXArray, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("training: IDX file %q: "+format, append([]any{name}, args...)...)
	}
	in, err := maybeGunzip(r)
	if err != nil {
		return nil, fail("%v", err)
	}

	var magic [4]byte
	if _, err := io.ReadFull(in, magic[:]); err != nil {
		return nil, fail("reading the 4-byte magic number: %v", eofAsTruncated(err))
	}
	typ, ndims := IDXType(magic[2]), int(magic[3])
	switch {
	case magic[0] != 0 || magic[1] != 0:
		return nil, fail("bad magic number % X: want 00 00 TYPE NDIMS", magic)
	case typ.size() == 0:
		return nil, fail("unknown element type 0x%02X: want one of 08 (uint8), 09 (int8), 0B (int16), 0C (int32), 0D (float32), 0E (float64)", byte(typ))
	case ndims == 0:
		return nil, fail("header declares 0 dimensions")
	}

	header := make([]byte, 4*ndims)
	if _, err := io.ReadFull(in, header); err != nil {
		return nil, fail("reading %d dimension sizes: %v", ndims, eofAsTruncated(err))
	}
	dims := make([]int, ndims)
	elements := int64(1)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(header[4*i:]))
		if dims[i] > 0 && elements > maxIDXElements/int64(dims[i]) {
			return nil, fail("header declares %s elements, more than the limit of %d", formatDims(dims[:i+1]), int64(maxIDXElements))
		}
		elements *= int64(dims[i])
	}
	data, err := readIDXData(in, typ, dims, int(elements))
	if err != nil {
		return nil, fail("%v", err)
	}
	return &IDXArray{Dims: dims, Data: data, Type: typ}, nil
}

// truncatedIDXError reports data that ends before the size its header declares.
type truncatedIDXError struct {
	dims []int
	typ  IDXType
	held int64 // bytes of data present
}

func (e *truncatedIDXError) Error() string {
	elements := int64(1)
	for _, d := range e.dims {
		elements *= int64(d)
	}
	return fmt.Sprintf("header declares %s %s = %d bytes but the file holds %d",
		formatDims(e.dims), e.typ, elements*int64(e.typ.size()), e.held)
}

// readIDXData reads the elements values of type typ of an array shaped dims,
// decoding them chunk by chunk so that memory grows with the data actually
// present rather than with what the header claims, then checks that nothing
// follows them.
func readIDXData(in io.Reader, typ IDXType, dims []int, elements int) ([]float32, error) {
	size := typ.size()
	data := make([]float32, 0, min(elements, initialIDXElements))
	chunk := make([]byte, idxChunkElements*size)
	for len(data) < elements {
		want := min(idxChunkElements, elements-len(data)) * size
		n, err := io.ReadFull(in, chunk[:want])
		data = appendIDX(data, chunk[:n-n%size], typ, elements)
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil, &truncatedIDXError{dims: dims, typ: typ, held: int64(len(data))*int64(size) + int64(n%size)}
		case err != nil:
			return nil, fmt.Errorf("reading data: %w", err)
		}
	}
	// Reading on to EOF also makes gzip verify its checksum.
	var probe [1]byte
	n, err := io.ReadFull(in, probe[:])
	switch {
	case n > 0:
		return nil, fmt.Errorf("trailing bytes after the %d data bytes that the header declares", int64(elements)*int64(size))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, errors.New("the gzip stream ends before its checksum: the file is truncated")
	case err != nil && !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("reading data: %w", err)
	}
	return data, nil
}

// growFloat32 makes room for extra more elements, doubling the capacity up
// to limit (append grows large slices by only 1.25x, which copies MNIST
// many times over).
func growFloat32(s []float32, extra, limit int) []float32 {
	if len(s)+extra <= cap(s) {
		return s
	}
	grown := make([]float32, len(s), max(min(2*cap(s), limit), len(s)+extra))
	copy(grown, s)
	return grown
}

// appendIDX decodes big-endian elements of type typ and appends them as
// float32, growing data to at most limit elements.
func appendIDX(data []float32, raw []byte, typ IDXType, limit int) []float32 {
	start, count := len(data), len(raw)/typ.size()
	data = growFloat32(data, count, limit)[:start+count]
	out := data[start:]
	be := binary.BigEndian
	switch typ {
	case IDXUint8:
		for i, b := range raw {
			out[i] = float32(b)
		}
	case IDXInt8:
		for i, b := range raw {
			out[i] = float32(int8(b))
		}
	case IDXInt16:
		for i := range out {
			out[i] = float32(int16(be.Uint16(raw[2*i:])))
		}
	case IDXInt32:
		for i := range out {
			out[i] = float32(int32(be.Uint32(raw[4*i:])))
		}
	case IDXFloat32:
		for i := range out {
			out[i] = math.Float32frombits(be.Uint32(raw[4*i:]))
		}
	case IDXFloat64:
		for i := range out {
			out[i] = float32(math.Float64frombits(be.Uint64(raw[8*i:])))
		}
	}
	return data
}

// ReadIDXFile reads the IDX file at path (gzip-compressed or plain).
func ReadIDXFile(path string) (*IDXArray, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("training: IDX file: %w", err)
	}
	defer f.Close()
	return ReadIDX(f, path)
}

// idxFileBases are the MNIST file names LoadIDXDir looks for, in the order
// train images, train labels, test images, test labels.
var idxFileBases = [4]string{
	"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
}

// LoadIDXDir loads train and test sets from a directory holding files named
// like MNIST's: train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally with
// .gz. Samples keep the shape the image file stores after its count, with a
// single channel added to H×W images (MNIST's 28×28 becomes 1×28×28) and a
// rank-1 row left flat; uint8 pixels are scaled to [0,1] by dividing by 255,
// other types are kept as stored. Classes is the largest label over both sets
// plus one (at least 2), so that train and test agree. Both sets are named
// after the directory.
func LoadIDXDir(dir string) (train, test *Dataset, err error) {
	if info, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("training: IDX directory: %w", err)
	} else if !info.IsDir() {
		return nil, nil, fmt.Errorf("training: IDX directory %q is not a directory", dir)
	}
	var arrays [4]*IDXArray
	for i, base := range idxFileBases {
		path, err := findIDXFile(dir, base)
		if err != nil {
			return nil, nil, err
		}
		if arrays[i], err = ReadIDXFile(path); err != nil {
			return nil, nil, err
		}
	}
	name := filepath.Base(filepath.Clean(dir))
	if train, err = idxDataset(name, dir, idxFileBases[0], idxFileBases[1], arrays[0], arrays[1]); err != nil {
		return nil, nil, err
	}
	if test, err = idxDataset(name, dir, idxFileBases[2], idxFileBases[3], arrays[2], arrays[3]); err != nil {
		return nil, nil, err
	}
	if !slices.Equal(arrays[0].Dims[1:], arrays[2].Dims[1:]) {
		return nil, nil, fmt.Errorf("training: IDX directory %q: train images are %s but test images are %s",
			dir, formatDims(arrays[0].Dims[1:]), formatDims(arrays[2].Dims[1:]))
	}
	classes := max(2, maxLabel(train.Y)+1, maxLabel(test.Y)+1)
	train.Classes, test.Classes = classes, classes
	return train, test, nil
}

// findIDXFile returns the path of base or base.gz in dir, whichever exists.
func findIDXFile(dir, base string) (string, error) {
	tried := []string{base, base + ".gz"}
	for _, name := range tried {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("training: IDX directory %q: no file named %s", dir, strings.Join(tried, " or "))
}

// idxDataset pairs an image array with its label array.
func idxDataset(name, dir, imagesBase, labelsBase string, images, labels *IDXArray) (*Dataset, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("training: IDX directory %q: "+format, append([]any{dir}, args...)...)
	}
	if len(images.Dims) < 2 {
		return nil, fail("%s is %s, want at least 2 dimensions (samples × features)", imagesBase, formatDims(images.Dims))
	}
	if len(labels.Dims) != 1 {
		return nil, fail("%s is %s, want 1-D labels", labelsBase, formatDims(labels.Dims))
	}
	if images.Dims[0] != labels.Dims[0] {
		return nil, fail("%s holds %d images but %s holds %d labels", imagesBase, images.Dims[0], labelsBase, labels.Dims[0])
	}
	n := images.Dims[0]
	if n == 0 {
		return nil, fail("%s holds no images", imagesBase)
	}
	dim := len(images.Data) / n
	if dim == 0 {
		return nil, fail("%s has images of %s = 0 pixels", imagesBase, formatDims(images.Dims[1:]))
	}
	y := make([]int32, n)
	for i, v := range labels.Data {
		label, err := checkLabel(float64(v))
		if err != nil {
			return nil, fail("%s: label %d: %v", labelsBase, i, err)
		}
		y[i] = label
	}
	x := images.Data
	if images.Type == IDXUint8 {
		for i := range x {
			x[i] /= 255
		}
	}
	return &Dataset{Name: name, X: x, Y: y, Shape: idxSampleShape(images.Dims[1:]), Dim: dim}, nil
}

// idxSampleShape is the shape of one sample stored as dims: an H×W image
// gets its single channel, 1×H×W, like every image shape; other ranks (a
// flat row, C×H×W) are kept as stored.
func idxSampleShape(dims []int) Shape {
	if len(dims) == 2 {
		return Shape{1, dims[0], dims[1]}
	}
	return slices.Clone(Shape(dims))
}

// maxClasses caps a label value read from a file, so that one corrupt label
// cannot make every per-class table (ClassCounts, confusion matrices) huge.
const maxClasses = 1 << 16

// checkLabel converts a label read from a file, rejecting negative,
// fractional and absurdly large values.
func checkLabel(v float64) (int32, error) {
	switch {
	case v != math.Trunc(v) || math.IsInf(v, 0):
		return 0, fmt.Errorf("%s is not an integer", formatLabel(v))
	case v < 0:
		return 0, fmt.Errorf("%s is negative", formatLabel(v))
	case v >= maxClasses:
		return 0, fmt.Errorf("%s exceeds the largest supported label %d", formatLabel(v), maxClasses-1)
	}
	return int32(v), nil
}

// formatLabel prints a label as written: whole numbers without an exponent
// up to 1e15, anything else in the shortest form.
func formatLabel(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// maxLabel returns the largest label, or -1 for none.
func maxLabel(y []int32) int {
	m := -1
	for _, v := range y {
		m = max(m, int(v))
	}
	return m
}

// formatDims writes dimensions the way people write array shapes: 60000×28×28.
func formatDims(dims []int) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, "×")
}

// maybeGunzip returns a reader of r's decompressed content when r starts
// with the gzip magic bytes 1f 8b, and of r itself otherwise. Callers bound
// how much they read from it, since a small gzip file can expand enormously.
func maybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip header: %w", err)
		}
		return zr, nil
	}
	return br, nil
}

// eofAsTruncated turns the EOF errors of a short read into a message saying
// the file ends early.
func eofAsTruncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("file ends early")
	}
	return err
}
