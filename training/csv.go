package training

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxCSVBytes caps how much (decompressed) text ReadCSV accepts, so that a
// small gzip file cannot expand without bound.
const maxCSVBytes = 1 << 31

// errCSVTooLarge is returned by the capped reader past maxCSVBytes.
var errCSVTooLarge = fmt.Errorf("input exceeds %d bytes", int64(maxCSVBytes))

// ReadCSV reads a labelled dataset with one sample per row: the feature
// values, then an integer label in the last column. Samples are flat: a row
// of D features has shape D. Cells are separated by
// commas, or by semicolons or tabs when the first line uses those instead.
// A first row with any non-numeric cell is taken as a header and skipped.
// Gzip-compressed input is detected by its magic bytes. Classes is the
// largest label plus one (at least 2). name says where the bytes come from in
// errors, and its base, less .gz and .csv, names the dataset.
func ReadCSV(r io.Reader, name string) (*Dataset, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("training: CSV file %q: "+format, append([]any{name}, args...)...)
	}
	in, err := maybeGunzip(r)
	if err != nil {
		return nil, fail("%v", err)
	}
	br := bufio.NewReaderSize(&cappedReader{r: in, left: maxCSVBytes}, 1<<16)
	cr := csv.NewReader(br)
	cr.Comma = sniffCSVDelimiter(br)
	cr.FieldsPerRecord = -1 // ragged rows get our own message, with both widths
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true

	d := &Dataset{Name: csvDatasetName(name)}
	width, widthLine := 0, 0
	for row := 0; ; row++ {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fail("%v", err)
		}
		line, _ := cr.FieldPos(0)
		if row == 0 {
			width, widthLine = len(record), line
			if width < 2 {
				return nil, fail("line %d has %d column; want feature columns then a label column", line, width)
			}
			d.Dim = width - 1
			d.Shape = Flat(d.Dim)
			if isCSVHeader(record) {
				continue
			}
		}
		if len(record) != width {
			return nil, fail("line %d has %d columns but line %d has %d", line, len(record), widthLine, width)
		}
		for col, cell := range record[:d.Dim] {
			v, err := strconv.ParseFloat(strings.TrimSpace(cell), 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fail("line %d, column %d: feature %q is not a finite number", line, col+1, cell)
			}
			d.X = append(d.X, float32(v))
		}
		cell := record[d.Dim]
		v, err := strconv.ParseFloat(strings.TrimSpace(cell), 64)
		if err != nil {
			return nil, fail("line %d, column %d: label %q is not a number", line, width, cell)
		}
		label, err := checkLabel(v)
		if err != nil {
			return nil, fail("line %d, column %d: label %v", line, width, err)
		}
		d.Y = append(d.Y, label)
	}
	if d.Len() == 0 {
		return nil, fail("no data rows")
	}
	d.Classes = max(2, maxLabel(d.Y)+1)
	return d, nil
}

// ReadCSVFile reads the CSV file at path (gzip-compressed or plain); see ReadCSV.
func ReadCSVFile(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("training: CSV file: %w", err)
	}
	defer f.Close()
	return ReadCSV(f, path)
}

// sniffCSVDelimiter picks the separator the first line uses most among comma,
// semicolon and tab, preferring comma on a tie or when it sees none.
func sniffCSVDelimiter(br *bufio.Reader) rune {
	head, _ := br.Peek(br.Size()) // short reads and errors surface on the real read
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	best, bestCount := ',', bytes.Count(head, []byte{','})
	for _, sep := range []rune{';', '\t'} {
		if n := bytes.Count(head, []byte{byte(sep)}); n > bestCount {
			best, bestCount = sep, n
		}
	}
	return best
}

// isCSVHeader reports whether a row has any cell that is not a number.
func isCSVHeader(record []string) bool {
	for _, cell := range record {
		if _, err := strconv.ParseFloat(strings.TrimSpace(cell), 64); err != nil {
			return true
		}
	}
	return false
}

// csvDatasetName turns "data/iris.csv.gz" into "iris".
func csvDatasetName(name string) string {
	base := filepath.Base(name)
	base = strings.TrimSuffix(base, ".gz")
	return strings.TrimSuffix(base, ".csv")
}

// cappedReader reads from r until left bytes are used up, then fails with
// errCSVTooLarge rather than a silent EOF, so oversized input is reported.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One probe byte tells a file of exactly the cap from a larger one.
		var probe [1]byte
		n, err := c.r.Read(probe[:])
		if n > 0 {
			return 0, errCSVTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
