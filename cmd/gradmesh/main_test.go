package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gradmesh runs the command line args in process. The stderr it returns
// leaves out the line sim and join start with to say which BLAS computes,
// which TestSimAndJoinSayWhichBLASComputes checks.
func gradmesh(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	_, stderr = splitBLASLine(errb.String())
	return code, out.String(), stderr
}

// splitBLASLine separates the "blas: ..." log line from the rest of stderr.
func splitBLASLine(stderr string) (blas, rest string) {
	var kept []string
	for _, line := range strings.SplitAfter(stderr, "\n") {
		if strings.Contains(line, `msg="blas: `) && blas == "" {
			blas = line
			continue
		}
		kept = append(kept, line)
	}
	return blas, strings.Join(kept, "")
}

func TestSimAndJoinSayWhichBLASComputes(t *testing.T) {
	withoutDriver(t)
	t.Setenv("GRADMESH_BLAS", "gonum")
	for _, args := range [][]string{
		{"sim", "--peers", "2", "--epochs", "1", "--device", "cpu", "--quiet"},
		{"join", "--device", "gpu", "--no-mdns", "--key", filepath.Join(t.TempDir(), "peer.key")},
	} {
		var out, errb bytes.Buffer
		run(context.Background(), args, &out, &errb)
		blas, _ := splitBLASLine(errb.String())
		if !strings.Contains(blas, `level=INFO msg="blas: gonum (pure Go): GRADMESH_BLAS=gonum"`) {
			t.Errorf("%s: stderr %q, want a line saying gonum computes and why", args[0], errb.String())
		}
	}
	t.Setenv("GRADMESH_BLAS", "mkl")
	for _, args := range [][]string{
		{"sim", "--peers", "2", "--epochs", "1", "--device", "cpu"},
		{"join", "--no-mdns", "--key", filepath.Join(t.TempDir(), "peer.key")},
	} {
		code, out, errOut := gradmesh(t, args...)
		want := "gradmesh " + args[0] + `: GRADMESH_BLAS="mkl": want auto, gonum, openblas or the path of an OpenBLAS library` + "\n"
		if code != 1 || errOut != want || out != "" {
			t.Errorf("%s: exit %d, stderr %q, stdout %q; want exit 1 and %q", args[0], code, errOut, out, want)
		}
	}
}

func TestSimWritesOutputs(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := gradmesh(t, "sim", "--peers", "4", "--model", "softmax", "--epochs", "3",
		"--topology", "ring", "--target-accuracy", "0.5", "--out", dir, "--device", "cpu")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "final test accuracy: 0.") {
		t.Fatalf("no final accuracy line in:\n%s", out)
	}
	if errOut != "" {
		t.Fatalf("stderr not quiet off a terminal: %q", errOut)
	}
	for _, f := range []string{"metrics.csv", "summary.json", "accuracy.png", "consensus.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	var sum map[string]any
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"final_test_accuracy", "final_test_accuracy_min", "final_consensus_distance", "rounds",
		"samples_seen", "bytes_sent_per_peer", "virtual_seconds", "wall_seconds", "virtual_seconds_to_target"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary.json lacks %q", k)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "metrics.csv"))
	if lines := strings.Count(string(csv), "\n"); lines < 3 {
		t.Errorf("metrics.csv has %d lines", lines)
	}
}

func TestBadInputExitsWithAClearMessage(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sim", "--peers", "0"}, 2, "--peers 0"},
		{[]string{"sim", "--partition", "dirichlet:-1"}, 2, "alpha"},
		{[]string{"sim", "--topology", "star"}, 2, "star"},
		{[]string{"sim", "--peers", "ten"}, 2, "invalid value \"ten\""},
		{[]string{"sim", "--frobnicate"}, 2, "frobnicate"},
		{[]string{"sim", "--aggregate", "median"}, 2, `unknown aggregator "median" (want mean)`},
		{[]string{"sim", "--round-timeout", "-1s"}, 2, "--round-timeout -1000ms"},
		{[]string{"sim", "extra"}, 2, "unexpected argument"},
		{[]string{"sim", "--dataset", "csv:/no/such/file.csv"}, 2, "/no/such/file.csv"},
		{[]string{"sim", "--dataset", "mnist", "--data-dir", "/no/such/dir"}, 2, "/no/such/dir"},
		{[]string{"train"}, 2, "unknown command"},
		{nil, 2, "Usage"},
	}
	for _, c := range cases {
		code, _, errOut := gradmesh(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("gradmesh %v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

func TestBadCSVNamesLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(path, []byte("1,2,0\n3,4,1\n5,oops,1\n"), 0o644)
	code, _, errOut := gradmesh(t, "sim", "--dataset", "csv:"+path, "--peers", "2")
	if code == 0 || !strings.Contains(errOut, "line 3") {
		t.Fatalf("exit %d, stderr %q; want failure naming line 3", code, errOut)
	}
}

func TestHelp(t *testing.T) {
	if code, out, _ := gradmesh(t, "help"); code != 0 || !strings.Contains(out, "gradmesh sim") {
		t.Fatalf("help: exit %d, %q", code, out)
	}
	if code, _, errOut := gradmesh(t, "sim", "-h"); code != 0 || !strings.Contains(errOut, "--peers") && !strings.Contains(errOut, "-peers") {
		t.Fatalf("sim -h: exit %d, %q", code, errOut)
	}
}
