package training

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"
)

// digitsCSV is UCI optdigits as distributed with scikit-learn (see
// embedded/README.md for the attribution): 1797 rows of 64 pixel counts
// 0..16 (an 8×8 image) followed by the digit.
//
//go:embed embedded/digits.csv.gz
var digitsCSV []byte

// digitsShape is an embedded digit: one channel of 8×8 pixels, row by row as
// the CSV stores them.
var digitsShape = Shape{1, 8, 8}

// Digits returns the embedded UCI optdigits set, 1797 images of 1×8×8 pixel
// counts in 0..16 and 10 classes, named "digits". It is the default dataset
// because it ships inside the binary and trains in seconds. Each call parses
// afresh, so callers may modify the result (e.g. standardize it) freely.
func Digits() (*Dataset, error) {
	d, err := ReadCSV(bytes.NewReader(digitsCSV), "embedded/digits.csv.gz")
	if err != nil {
		return nil, err
	}
	d.Name = "digits"
	if d.Len() != 1797 || d.Dim != digitsShape.Size() || d.Classes != 10 {
		return nil, fmt.Errorf("training: embedded digits: %d samples of dimension %d in %d classes, want 1797 × 64 in 10", d.Len(), d.Dim, d.Classes)
	}
	d.Shape = slices.Clone(digitsShape)
	return d, nil
}
