package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writePlaneMatrix writes the RTTs of n peers on a 10×n ms grid plus 1 ms
// access links: a matrix coordinates can embed almost exactly.
func writePlaneMatrix(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		for j := range n {
			rtt := 0.0
			if i != j {
				rtt = math.Hypot(float64(10*(i%4-j%4)), float64(10*(i/4-j/4))) + 2
			}
			if j > 0 {
				b.WriteByte('\t')
			}
			fmt.Fprintf(&b, "%.3f", rtt)
		}
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "grid.tsv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTopoJSONCarriesTheReportAndTheDefaults(t *testing.T) {
	path := writePlaneMatrix(t, 16)
	code, out, errOut := gradmesh(t, "topo", "--latency-matrix", path, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out)
	}
	want := map[string]any{"peers": 16.0, "pairs": 240.0, "shortlist": 8.0, "k": 4.0, "steps": 300.0, "samples": 4.0,
		"near_fraction": 0.1, "seed": 1.0, "preset": "gradmesh", "latency_matrix": path}
	for key, v := range want {
		if got[key] != v {
			t.Errorf("%s = %v, want %v", key, got[key], v)
		}
	}
	for _, key := range []string{"median_rel_error", "p90_rel_error", "mean_rel_error", "nearest_exact_fraction", "stretch"} {
		if _, ok := got[key].(float64); !ok {
			t.Errorf("%s missing or not a number in %s", key, out)
		}
	}
	if e := got["median_rel_error"].(float64); e > 0.02 {
		t.Errorf("median relative error %v on an embeddable grid, want at most 0.02", e)
	}
}

func TestTopoTable(t *testing.T) {
	path := writePlaneMatrix(t, 12)
	code, out, errOut := gradmesh(t, "topo", "--latency-matrix", path, "--steps", "50", "--shortlist", "4", "--k", "2",
		"--samples", "2", "--seed", "9", "--preset", "serf")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{"12 peers, 132 pairs", "serf preset", "50 steps × 2 samples", "seed 9",
		"median relative error", "nearest found (probe 4)", "stretch (keep 2 of 4)"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	// The numbers line up in one column.
	lines := strings.Split(strings.TrimSpace(out), "\n")[1:]
	col := strings.LastIndex(lines[0], " ")
	for _, l := range lines {
		if strings.LastIndex(l, " ") != col {
			t.Errorf("misaligned table:\n%s", out)
			break
		}
	}
}

func TestTopoBadInput(t *testing.T) {
	good := writePlaneMatrix(t, 6)
	bad := filepath.Join(t.TempDir(), "bad.tsv")
	os.WriteFile(bad, []byte("0\t1\n1\toops\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"topo"}, "--latency-matrix is required"},
		{[]string{"topo", "--latency-matrix", "/no/such/rtt.tsv"}, "/no/such/rtt.tsv"},
		{[]string{"topo", "--latency-matrix", bad}, `bad.tsv" line 2: column 2: "oops" is not a number`},
		{[]string{"topo", "--latency-matrix", good, "--shortlist", "0"}, "--shortlist 0"},
		{[]string{"topo", "--latency-matrix", good, "--k", "9"}, "--k 9: want 1 to --shortlist (8)"},
		{[]string{"topo", "--latency-matrix", good, "--steps", "0"}, "--steps 0"},
		{[]string{"topo", "--latency-matrix", good, "--samples", "-1"}, "--samples -1"},
		{[]string{"topo", "--latency-matrix", good, "--near-fraction", "1.5"}, "--near-fraction 1.5"},
		{[]string{"topo", "--latency-matrix", good, "--preset", "king"}, `--preset "king"`},
		{[]string{"topo", "--latency-matrix", good, "--seed", "-3"}, `invalid value "-3" for flag -seed`},
		{[]string{"topo", "--latency-matrix", good, "extra"}, `unexpected argument "extra"`},
	}
	for _, c := range cases {
		code, _, errOut := gradmesh(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("gradmesh %v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, errOut, c.want)
		}
	}
	one := filepath.Join(t.TempDir(), "one.tsv")
	os.WriteFile(one, []byte("0\n"), 0o644)
	if code, _, errOut := gradmesh(t, "topo", "--latency-matrix", one); code != 1 || !strings.Contains(errOut, "at least 2 peers") {
		t.Errorf("one-peer matrix: exit %d, stderr %q; want exit 1 saying it needs 2 peers", code, errOut)
	}
}

// TestTopoPlanetLabAcceptance is issue 4's acceptance: the command's default
// settings on the PlanetLab matrix.
func TestTopoPlanetLabAcceptance(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "data", "rtt", "planetlab-490.tsv")
	if _, err := os.Stat(path); err != nil {
		abs, _ := filepath.Abs(path)
		t.Skipf("PlanetLab RTT matrix not found at %s (%v); it lives in ../shared/data beside the project", abs, err)
	}
	code, out, errOut := gradmesh(t, "topo", "--latency-matrix", path, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r struct {
		Median  float64 `json:"median_rel_error"`
		Nearest float64 `json:"nearest_exact_fraction"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", out)
	if r.Median > 0.08 || r.Nearest < 0.66 {
		t.Errorf("median relative error %.4f (want <= 0.08), nearest found %.3f (want >= 0.66)", r.Median, r.Nearest)
	}
}
