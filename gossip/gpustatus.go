package gossip

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// GPUStatus is the gpu section of /status: whether this peer trains on a
// GPU its owner lends, and why or why not. The gossip package does not read
// GPUs itself; the shell passes PeerConfig.GPUStatus.
type GPUStatus struct {
	// State is one of GPUStates: idle-contributing (steps run on the GPU),
	// yielded (the owner has it; steps run on the CPU), no-gpu (none
	// usable), disabled (the peer was told to use the CPU only).
	State             string     `json:"state"`
	Reason            string     `json:"reason"`
	Device            int        `json:"device"` // NVML index; -1 when none
	Name              string     `json:"name,omitempty"`
	UUID              string     `json:"uuid,omitempty"`
	MemoryTotalBytes  uint64     `json:"memory_total_bytes,omitempty"`
	MemoryBudgetBytes uint64     `json:"memory_budget_bytes"` // what gradmesh may take while contributing
	Since             *time.Time `json:"since,omitempty"`     // when State last changed
	Backend           string     `json:"backend,omitempty"`   // the compute backend, while on the GPU
	GPUSteps          uint64     `json:"gpu_steps"`
	CPUSteps          uint64     `json:"cpu_steps"`
	Yields            uint64     `json:"yields"` // times the GPU was handed back and its memory freed
}

// GPUStates are the values of GPUStatus.State; /metrics has a gauge for each.
var GPUStates = []string{"idle-contributing", "yielded", "no-gpu", "disabled"}

// writePrometheus writes the GPU metrics in the text exposition format.
func (g *GPUStatus) writePrometheus(w io.Writer) {
	fmt.Fprintf(w, "# HELP gradmesh_gpu_state Whether this peer's GPU is in each state (1) or not (0).\n# TYPE gradmesh_gpu_state gauge\n")
	for _, s := range GPUStates {
		v := 0
		if g.State == s {
			v = 1
		}
		fmt.Fprintf(w, "gradmesh_gpu_state{state=%s} %d\n", promLabel(s), v)
	}
	if g.Device >= 0 {
		fmt.Fprintf(w, "# HELP gradmesh_gpu_info The GPU this peer watches.\n# TYPE gradmesh_gpu_info gauge\n")
		fmt.Fprintf(w, "gradmesh_gpu_info{device=\"%d\",name=%s,uuid=%s} 1\n", g.Device, promLabel(g.Name), promLabel(g.UUID))
	}
	metric := func(name, help, kind string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", name, help, name, kind, name, v)
	}
	metric("gradmesh_gpu_memory_budget_bytes", "GPU memory gradmesh may use while contributing.", "gauge", g.MemoryBudgetBytes)
	metric("gradmesh_gpu_steps_total", "Training steps computed on the GPU.", "counter", g.GPUSteps)
	metric("gradmesh_cpu_steps_total", "Training steps computed on the CPU.", "counter", g.CPUSteps)
	metric("gradmesh_gpu_yields_total", "Times the GPU was handed back to its owner and gradmesh's GPU memory freed.", "counter", g.Yields)
}

// promLabel quotes a label value as the exposition format escapes it:
// backslash, double quote and newline only.
func promLabel(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
