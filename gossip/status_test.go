package gossip

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestStatusWritesPrometheusText(t *testing.T) {
	acc := 0.93
	st := Status{TrainingStatus: TrainingStatus{Round: 12, Loss: 0.25, TestAccuracy: &acc},
		TrafficStatus: TrafficStatus{BytesIn: 1000, BytesOut: 2000, Rejected: 3},
		NeighborhoodStatus: NeighborhoodStatus{Members: 5,
			Neighbors: []NeighborStatus{{PeerID: "12D3KooWA", RTTms: 1.5}, {PeerID: "12D3KooWB", RTTms: 80, Long: true}},
			RTT: []RTTStatus{{PeerID: "12D3KooWA", RTTms: 1.5, LastRTTms: 2, Source: "quic", Samples: 7, EstRTTms: 3},
				{PeerID: "12D3KooWC", RTTms: 250, LastRTTms: 240, Source: "ping", Samples: 1}},
			Coordinate: CoordStatus{Error: 0.25}}}
	var b bytes.Buffer
	st.WritePrometheus(&b)
	text := b.String()
	for _, want := range []string{
		"gradmesh_round 12\n", "gradmesh_test_accuracy 0.93\n", "gradmesh_neighbors 2\n",
		"gradmesh_bytes_in_total 1000\n", "gradmesh_rejected_messages_total 3\n",
		`gradmesh_neighbor_rtt_seconds{peer="12D3KooWB"} 0.08` + "\n",
		"# TYPE gradmesh_bytes_out_total counter\n",
		`gradmesh_peer_rtt_seconds{peer="12D3KooWC"} 0.25` + "\n",
		`gradmesh_peer_rtt_last_seconds{peer="12D3KooWA",source="quic"} 0.002` + "\n",
		`gradmesh_peer_rtt_last_seconds{peer="12D3KooWC",source="ping"} 0.24` + "\n",
		"# TYPE gradmesh_peer_rtt_seconds gauge\n",
		"gradmesh_long_neighbors 1\n",
		"gradmesh_coordinate_error 0.25\n",
		`gradmesh_peer_rtt_estimate_seconds{peer="12D3KooWA"} 0.003` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	sample := regexp.MustCompile(`^[a-z_]+(\{[a-z]+="[^"]+"(,[a-z]+="[^"]+")*\})? [-0-9.e+]+$`)
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if !strings.HasPrefix(line, "# ") && !sample.MatchString(line) {
			t.Errorf("not a Prometheus sample line: %q", line)
		}
	}
	if strings.Contains(text, `gradmesh_peer_rtt_estimate_seconds{peer="12D3KooWC"}`) {
		t.Error("metrics report an estimate for a peer without one")
	}
	st.TestAccuracy = nil
	b.Reset()
	st.WritePrometheus(&b)
	if strings.Contains(b.String(), "gradmesh_test_accuracy") {
		t.Error("a peer that was never evaluated reports a test accuracy")
	}
}

func TestStatusWritesGPUMetrics(t *testing.T) {
	st := Status{GPU: &GPUStatus{State: "yielded", Reason: "process 4242 (blender) is using the GPU", Device: 1,
		Name: `NVIDIA "H200"`, UUID: "GPU-5a1e4b2c-0d9f-4e3a-8b7c-6d5e4f3a2b1c", GPUSteps: 1200, CPUSteps: 35, Yields: 2}}
	var b bytes.Buffer
	st.WritePrometheus(&b)
	text := b.String()
	for _, want := range []string{
		`gradmesh_gpu_state{state="idle-contributing"} 0` + "\n",
		`gradmesh_gpu_state{state="yielded"} 1` + "\n",
		`gradmesh_gpu_state{state="no-gpu"} 0` + "\n",
		`gradmesh_gpu_state{state="disabled"} 0` + "\n",
		`gradmesh_gpu_info{device="1",name="NVIDIA \"H200\"",uuid="GPU-5a1e4b2c-0d9f-4e3a-8b7c-6d5e4f3a2b1c"} 1` + "\n",
		"gradmesh_gpu_memory_budget_bytes 0\n",
		"# TYPE gradmesh_gpu_steps_total counter\ngradmesh_gpu_steps_total 1200\n",
		"gradmesh_cpu_steps_total 35\n",
		"gradmesh_gpu_yields_total 2\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if n := strings.Count(text, "# TYPE gradmesh_gpu_state gauge"); n != 1 {
		t.Errorf("gradmesh_gpu_state typed %d times", n)
	}

	st.GPU = &GPUStatus{State: "disabled", Reason: "--device cpu", Device: -1}
	b.Reset()
	st.WritePrometheus(&b)
	if text := b.String(); !strings.Contains(text, `gradmesh_gpu_state{state="disabled"} 1`) || strings.Contains(text, "gradmesh_gpu_info") {
		t.Errorf("a peer without a GPU: %s", text)
	}
	st.GPU = nil
	b.Reset()
	st.WritePrometheus(&b)
	if strings.Contains(b.String(), "gradmesh_gpu") {
		t.Error("GPU metrics written for a peer whose shell reports no GPU status")
	}
}
