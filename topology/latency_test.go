package topology

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// sameMS reports whether two entry lists are equal, NaN matching NaN.
func sameMS(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool {
		return x == y || (math.IsNaN(x) && math.IsNaN(y))
	})
}

func TestParseLatencyMatrixFormats(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name string
		text string
		want []float64
	}{
		{"tsv", "0\t1.5\t20\n1.4\t0\t7\n21\t6.5\t0\n", []float64{0, 1.5, 20, 1.4, 0, 7, 21, 6.5, 0}},
		{"csv", "0,1.5,20\n1.4,0,7\n21,6.5,0\n", []float64{0, 1.5, 20, 1.4, 0, 7, 21, 6.5, 0}},
		{"csv with spaces", "0, 1.5, 20\n1.4, 0, 7\n21, 6.5, 0", []float64{0, 1.5, 20, 1.4, 0, 7, 21, 6.5, 0}},
		{"whitespace", "  0   1.5 20\n1.4 0\t 7\n21 6.5   0\n", []float64{0, 1.5, 20, 1.4, 0, 7, 21, 6.5, 0}},
		{"comments, blank lines, CRLF, BOM",
			"\ufeff# RTT in ms\r\n\r\n0\t1.5\t20\r\n   \r\n# middle\r\n1.4\t0\t7\r\n21\t6.5\t0\r\n# end\r\n",
			[]float64{0, 1.5, 20, 1.4, 0, 7, 21, 6.5, 0}},
		{"unknown tsv cells", "0\t\t20\n\t0\t-1\n21\tNaN\t0\n", []float64{0, nan, 20, nan, 0, nan, 21, nan, 0}},
		{"unknown csv cells", "0,,20\n,0,-1\n21,,\n", []float64{0, nan, 20, nan, 0, nan, 21, nan, 0}},
		{"diagonal set to 0", "5\t1\n1\t\n", []float64{0, 1, 1, 0}},
		{"single node", "0\n", []float64{0}},
		{"no final newline", "0 2\n3 0", []float64{0, 2, 3, 0}},
		{"comment at the end without newline", "0 2\n3 0\n# end", []float64{0, 2, 3, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := ParseLatencyMatrix(strings.NewReader(c.text), c.name)
			if err != nil {
				t.Fatal(err)
			}
			if l.N*l.N != len(c.want) || !sameMS(l.MS, c.want) {
				t.Errorf("N=%d MS=%v, want %v", l.N, l.MS, c.want)
			}
		})
	}
}

func TestParseLatencyMatrixErrors(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"empty", "", `"x.tsv": no data rows`},
		{"only comments", "# nothing\n\n", "no data rows"},
		{"short row", "0\t1\t2\n1\t0\t2\n# c\n1\t2\n", `"x.tsv" line 4: row has 2 values, want 3`},
		{"long row", "0,1\n1,0,3\n", "line 2: row has 3 values, want 2"},
		{"too many rows", "0 1\n1 0\n2 2\n", "line 3: row 3, but the matrix has 2 columns"},
		{"too few rows", "0\t1\t2\n1\t0\t2\n\n", "ends after line 2 with 2 rows, want 3"},
		{"not a number", "0\t1\t2\n1\t0\tabc\n2\t2\t0\n", `line 2: column 3: "abc" is not a number`},
		{"infinite", "0,Inf\n1,0\n", `line 1: column 2: "Inf" is not a finite number`},
		{"out of range", "0,1e999\n1,0\n", `"1e999" is out of range`},
	}
	for _, c := range cases {
		_, err := ParseLatencyMatrix(strings.NewReader(c.text), "x.tsv")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "topology: latency matrix ") {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestParseLatencyMatrixReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("0 1\n1 0\n"), iotest.ErrReader(errors.New("disk gone")))
	_, err := ParseLatencyMatrix(r, "x.tsv")
	if err == nil || !strings.Contains(err.Error(), `"x.tsv": reading after line 2: disk gone`) {
		t.Errorf("error %v, want one saying reading failed after line 2", err)
	}
}

func TestReadLatencyMatrix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rtt.csv")
	must(t, os.WriteFile(path, []byte("0,10\n12,0\n"), 0o644))
	l, err := ReadLatencyMatrix(path)
	must(t, err)
	if l.N != 2 || l.At(0, 1) != 10 || l.At(1, 0) != 12 {
		t.Errorf("got N=%d MS=%v, want 2×2 with 10 and 12 off the diagonal", l.N, l.MS)
	}
	missing := filepath.Join(t.TempDir(), "absent.tsv")
	if _, err := ReadLatencyMatrix(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v, want one naming %s", err, missing)
	}
	bad := filepath.Join(t.TempDir(), "bad.tsv")
	must(t, os.WriteFile(bad, []byte("0\t1\n1\tx\n"), 0o644))
	if _, err := ReadLatencyMatrix(bad); err == nil || !strings.Contains(err.Error(), bad+`" line 2: column 2`) {
		t.Errorf("bad file: error %v, want one naming %s, line 2 and column 2", err, bad)
	}
}

func TestLatencyAt(t *testing.T) {
	l := &LatencyMatrix{N: 2, MS: []float64{0, 3, 4, 0}}
	cases := []struct {
		i, j int
		want float64
	}{{0, 1, 3}, {1, 0, 4}, {1, 1, 0}, {2, 0, math.NaN()}, {0, -1, math.NaN()}}
	for _, c := range cases {
		if got := l.At(c.i, c.j); !sameMS([]float64{got}, []float64{c.want}) {
			t.Errorf("At(%d,%d) = %g, want %g", c.i, c.j, got, c.want)
		}
	}
	var none *LatencyMatrix
	if !math.IsNaN(none.At(0, 0)) {
		t.Error("At on a nil matrix should be NaN")
	}
}

func TestFillUnknown(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name   string
		ms     []float64
		want   []float64
		filled int
	}{
		{
			name: "reverse entry first, else the median of the known off-diagonal entries",
			ms: []float64{
				0, nan, 10,
				7, 0, nan,
				nan, nan, nan,
			},
			want: []float64{
				0, 7, 10,
				7, 0, 8.5, // median of the known 10, 7
				10, 8.5, 0,
			},
			filled: 5,
		},
		{
			name:   "nothing unknown",
			ms:     []float64{0, 1, 2, 0},
			want:   []float64{0, 1, 2, 0},
			filled: 0,
		},
		{
			name:   "negative counts as unknown",
			ms:     []float64{0, -1, 2, 0},
			want:   []float64{0, 2, 2, 0},
			filled: 1,
		},
		{
			name:   "no known off-diagonal entry",
			ms:     []float64{nan, nan, nan, 0},
			want:   []float64{0, nan, nan, 0},
			filled: 1,
		},
	}
	for _, c := range cases {
		n := int(math.Sqrt(float64(len(c.ms))))
		l := &LatencyMatrix{N: n, MS: slices.Clone(c.ms)}
		filled := l.FillUnknown()
		if filled != c.filled || !sameMS(l.MS, c.want) {
			t.Errorf("%s: filled %d, MS %v; want %d, %v", c.name, filled, l.MS, c.filled, c.want)
		}
	}
	if (&LatencyMatrix{N: 3, MS: []float64{1}}).FillUnknown() != 0 {
		t.Error("FillUnknown on a malformed matrix should fill nothing")
	}
}

// The median fill uses the mean of the middle two of an even count.
func TestFillUnknownEvenMedian(t *testing.T) {
	nan := math.NaN()
	l := &LatencyMatrix{N: 3, MS: []float64{
		0, 10, 20,
		30, 0, nan,
		40, nan, 0,
	}}
	if filled := l.FillUnknown(); filled != 2 || l.At(1, 2) != 25 || l.At(2, 1) != 25 {
		t.Errorf("filled %d, (1,2)=%g, (2,1)=%g; want 2, 25, 25", filled, l.At(1, 2), l.At(2, 1))
	}
}

func TestSub(t *testing.T) {
	l := &LatencyMatrix{N: 3, MS: []float64{
		0, 1, 2,
		3, 0, 5,
		6, 7, 0,
	}}
	sub, err := l.Sub([]int{2, 0})
	must(t, err)
	if want := []float64{0, 6, 2, 0}; sub.N != 2 || !slices.Equal(sub.MS, want) {
		t.Errorf("Sub([2 0]) = N=%d %v, want 2×2 %v", sub.N, sub.MS, want)
	}
	cases := []struct {
		l    *LatencyMatrix
		idx  []int
		want string
	}{
		{l, nil, "at least one"},
		{l, []int{0, 3}, "index 3 (position 1) is out of range [0,3)"},
		{l, []int{1, -1}, "index -1"},
		{l, []int{1, 2, 1}, "index 1 appears twice (positions 0 and 2)"},
		{&LatencyMatrix{N: 2, MS: []float64{0}}, []int{0}, "N=2 but 1 entries"},
		{nil, []int{0}, "nil"},
	}
	for _, c := range cases {
		_, err := c.l.Sub(c.idx)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Sub(%v): error %v, want one containing %q", c.idx, err, c.want)
		}
	}
}

// TestPlanetLabMatrix reads the real 490-node PlanetLab RTT matrix that the
// simulator uses, when it is present beside the project.
func TestPlanetLabMatrix(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "data", "rtt", "planetlab-490.tsv")
	if _, err := os.Stat(path); err != nil {
		abs, _ := filepath.Abs(path)
		t.Skipf("PlanetLab RTT matrix not found at %s (%v); it lives in ../shared/data beside the project", abs, err)
	}
	l, err := ReadLatencyMatrix(path)
	must(t, err)
	if l.N != 490 || len(l.MS) != 490*490 {
		t.Fatalf("N=%d with %d entries, want 490×490", l.N, len(l.MS))
	}
	unknown, asymmetric := 0, 0
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range l.N {
		if l.At(i, i) != 0 {
			t.Fatalf("diagonal (%d,%d) = %g, want 0", i, i, l.At(i, i))
		}
		for j := range l.N {
			v := l.At(i, j)
			switch {
			case i == j:
			case math.IsNaN(v):
				unknown++
			default:
				lo, hi = min(lo, v), max(hi, v)
				if j > i && v != l.At(j, i) && !math.IsNaN(l.At(j, i)) {
					asymmetric++
				}
			}
		}
	}
	t.Logf("planetlab-490: %d unknown entries, %d asymmetric pairs, RTT %.3f–%.1f ms", unknown, asymmetric, lo, hi)
	if lo <= 0 || hi > 10000 {
		t.Errorf("RTT range %g–%g ms, want within (0, 10000]", lo, hi)
	}
	if filled := l.FillUnknown(); filled != unknown {
		t.Errorf("FillUnknown filled %d, want the %d unknown entries", filled, unknown)
	}
	for i, v := range l.MS {
		if math.IsNaN(v) {
			t.Fatalf("entry (%d,%d) still unknown after FillUnknown", i/l.N, i%l.N)
		}
	}
	sub, err := l.Sub([]int{489, 0, 1})
	must(t, err)
	if sub.At(0, 1) != l.At(489, 0) || sub.At(2, 0) != l.At(1, 489) {
		t.Error("Sub does not keep the chosen nodes' RTTs")
	}
}
