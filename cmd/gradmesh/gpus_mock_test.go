//go:build cgo

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/gradmesh/gradmesh/gpu"
	"github.com/gradmesh/gradmesh/gpu/nvmltest"
)

// withMachine makes `gradmesh gpus` read m instead of the real NVML.
func withMachine(t *testing.T, m *nvmltest.Machine) {
	t.Helper()
	saved := openNVML
	openNVML = func() (*gpu.NVML, error) { return gpu.OpenNVML(m.Server, gpu.WithProcFS(nil)) }
	t.Cleanup(func() { openNVML = saved })
}

func TestGPUsTable(t *testing.T) {
	m := nvmltest.New(2)
	m.Set(1, func(g *nvmltest.GPU) {
		g.Util, g.MemUtil, g.TemperatureC, g.PowerMW = 88, 40, 71, 455_000
		g.UsedBytes = 40 << 30
		g.Compute = []nvml.ProcessInfo{{Pid: 31337, UsedGpuMemory: 39 << 30}}
	})
	withMachine(t, m)
	code, out, errOut := gradmesh(t, "gpus")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"driver 550.54.15  CUDA 12.4  NVML 12.550.54.15\n",
		"\nGPU 0  NVIDIA H200 141GB HBM3e  " + m.UUID(0) + "\n",
		"\nGPU 1  NVIDIA H200 141GB HBM3e  " + m.UUID(1) + "\n" +
			"  memory       40.0 GiB used of 141.0 GiB\n" +
			"  utilization  88% gpu, 40% memory\n" +
			"  temperature  71 °C\n" +
			"  power        455 W of 700 W limit\n" +
			"  processes\n" +
			"    PID    KIND     MEMORY    NAME\n" +
			"    31337  compute  39.0 GiB  -\n",
		"  processes    none\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestGPUsDriverWithoutGPU(t *testing.T) {
	m := nvmltest.New(1)
	m.Plug(0)
	withMachine(t, m)
	code, out, _ := gradmesh(t, "gpus")
	if code != 0 || out != "driver 550.54.15  CUDA 12.4  NVML 12.550.54.15\n\nno GPU found\n" {
		t.Errorf("gpus: exit %d, stdout %q", code, out)
	}
	code, out, _ = gradmesh(t, "gpus", "--json")
	var got struct {
		Driver string            `json:"driver_version"`
		GPUs   []json.RawMessage `json:"gpus"`
		Status string            `json:"status"`
		Reason string            `json:"reason"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	if got.Driver != "550.54.15" || got.GPUs == nil || len(got.GPUs) != 0 || got.Status != "no-gpu" || got.Reason != "no GPU found" {
		t.Errorf("json %+v from %s", got, out)
	}
}

func TestGPUsJSON(t *testing.T) {
	m := nvmltest.New(1)
	m.Set(0, func(g *nvmltest.GPU) { g.PowerRet = nvml.ERROR_NOT_SUPPORTED })
	withMachine(t, m)
	code, out, _ := gradmesh(t, "gpus", "--json")
	var got struct {
		gpu.Inventory
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	if got.Status != "ok" || got.Reason != "" || got.CUDAVersion != "12.4" || len(got.GPUs) != 1 {
		t.Fatalf("json %+v", got)
	}
	g := got.GPUs[0]
	if g.UUID != m.UUID(0) || *g.MemoryTotalBytes != 144384<<20 || *g.TemperatureC != 35 || g.PowerDrawW != nil ||
		g.Unavailable["power_draw_w"] != "ERROR_NOT_SUPPORTED" || g.Processes == nil {
		t.Errorf("gpu %+v", g)
	}
	if strings.Contains(out, `"power_draw_w": null`) {
		t.Errorf("unreadable field printed as null rather than left out:\n%s", out)
	}
}
