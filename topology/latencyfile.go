package topology

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// ReadLatencyMatrix reads a square round-trip-time matrix in milliseconds
// (row = sender) from a CSV, TSV or whitespace-separated file; see
// ParseLatencyMatrix for the format. Errors name the file and line.
func ReadLatencyMatrix(path string) (*LatencyMatrix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("topology: latency matrix: %w", err)
	}
	defer f.Close()
	return ParseLatencyMatrix(f, path)
}

// ParseLatencyMatrix reads a square round-trip-time matrix in milliseconds,
// one row per line, row = sender. The delimiter is taken from the first data
// line: tab if it has one, else comma if it has one, else runs of spaces.
// Empty cells (tab or comma files), negative values and "NaN" mean unknown
// and become NaN. Blank lines and lines starting with '#' are ignored.
// Diagonal cells must parse but are set to 0: a node does not send to
// itself. name (usually the file path) is used in errors, which also give
// the 1-based line and column.
func ParseLatencyMatrix(r io.Reader, name string) (*LatencyMatrix, error) {
	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("topology: latency matrix %q line %d: %s", name, line, fmt.Sprintf(format, args...))
	}
	var (
		br       = bufio.NewReader(r) // no line-length limit, unlike bufio.Scanner
		split    func(string) []string
		ms       []float64
		n, rows  int
		lineNo   int
		lastData int // line number of the last data row
	)
	for {
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("topology: latency matrix %q: reading after line %d: %w", name, lineNo, err)
		}
		if line == "" && err != nil {
			break
		}
		lineNo++
		line = strings.TrimRight(line, "\r\n")
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // byte-order mark
		}
		if trimmed := strings.TrimSpace(line); trimmed == "" || strings.HasPrefix(trimmed, "#") {
			if err != nil {
				break
			}
			continue
		}
		if split == nil {
			split = cellSplitter(line)
		}
		cells := split(line)
		if rows == 0 {
			n = len(cells)
		}
		if len(cells) != n {
			return nil, fail(lineNo, "row has %d values, want %d", len(cells), n)
		}
		if rows == n {
			return nil, fail(lineNo, "row %d, but the matrix has %d columns and must be square", rows+1, n)
		}
		for col, cell := range cells {
			v, perr := parseRTT(cell)
			if perr != "" {
				return nil, fail(lineNo, "column %d: %s", col+1, perr)
			}
			if col == rows {
				v = 0
			}
			ms = append(ms, v)
		}
		rows++
		lastData = lineNo
		if err != nil {
			break
		}
	}
	switch {
	case rows == 0:
		return nil, fmt.Errorf("topology: latency matrix %q: no data rows (the file is empty or all comments)", name)
	case rows < n:
		return nil, fmt.Errorf("topology: latency matrix %q: ends after line %d with %d rows, want %d (one per column)",
			name, lastData, rows, n)
	}
	return &LatencyMatrix{N: n, MS: ms}, nil
}

// cellSplitter picks the delimiter from a file's first data line.
func cellSplitter(line string) func(string) []string {
	var delim string
	switch {
	case strings.Contains(line, "\t"):
		delim = "\t"
	case strings.Contains(line, ","):
		delim = ","
	default:
		return strings.Fields
	}
	return func(s string) []string {
		cells := strings.Split(s, delim)
		for i, c := range cells {
			cells[i] = strings.TrimSpace(c)
		}
		return cells
	}
}

// parseRTT reads one cell in milliseconds: empty, "NaN" or negative is
// unknown (NaN). It returns a non-empty reason for anything else that is not
// a finite number.
func parseRTT(cell string) (float64, string) {
	if cell == "" {
		return math.NaN(), ""
	}
	v, err := strconv.ParseFloat(cell, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, fmt.Sprintf("%q is out of range", cell)
	case err != nil:
		return 0, fmt.Sprintf("%q is not a number", cell)
	case math.IsInf(v, 0):
		return 0, fmt.Sprintf("%q is not a finite number of milliseconds", cell)
	case math.IsNaN(v) || v < 0:
		return math.NaN(), ""
	}
	return v, ""
}
