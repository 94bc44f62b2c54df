package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/gpu"
)

// noDriverReason skips tests of the driverless path on a machine that has
// an NVIDIA driver, and otherwise returns why NVML did not open: "no NVIDIA
// driver found" (the gpu tests pin that text), with a note in builds
// without cgo.
func noDriverReason(t *testing.T) string {
	t.Helper()
	s, err := gpu.OpenSystem()
	if err == nil {
		s.Close()
		t.Skip("an NVIDIA driver is present on this machine")
	}
	if !errors.Is(err, gpu.ErrNoDriver) || !strings.HasPrefix(err.Error(), "no NVIDIA driver found") {
		t.Fatalf("OpenSystem: %v", err)
	}
	return err.Error()
}

func TestGPUsWithoutDriver(t *testing.T) {
	reason := noDriverReason(t)
	code, out, errOut := gradmesh(t, "gpus")
	if code != 0 || out != reason+"\n" || errOut != "" {
		t.Fatalf("gpus: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestGPUsJSONWithoutDriver(t *testing.T) {
	reason := noDriverReason(t)
	code, out, errOut := gradmesh(t, "gpus", "--json")
	if code != 0 || errOut != "" {
		t.Fatalf("gpus --json: exit %d, stderr %q", code, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	want := map[string]any{
		"driver_version": "", "cuda_version": "", "nvml_version": "", "gpus": []any{},
		"status": "no-driver", "reason": reason,
	}
	if len(got) != len(want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !jsonEqual(g, w) {
			t.Errorf("%s = %#v, want %#v", k, g, w)
		}
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestGPUsBadInput(t *testing.T) {
	for _, args := range [][]string{{"gpus", "--frobnicate"}, {"gpus", "extra"}} {
		code, _, errOut := gradmesh(t, args...)
		if code != 2 || !strings.Contains(errOut, "gradmesh gpus:") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
