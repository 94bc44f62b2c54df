package cuda

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/gradmesh/gradmesh/training"
)

// TestOpenWithoutAGPUFailsClearly is for the machines gradmesh is mostly
// built and tested on: no GPU, often no driver. Open must say what is
// missing, on one line, and the process must live on.
func TestOpenWithoutAGPUFailsClearly(t *testing.T) {
	b, err := Open(0)
	if err == nil {
		_ = b.Close()
		t.Skipf("a usable GPU is present (%s); this test is for machines without one", b.Device())
	}
	msg := err.Error()
	t.Logf("Open(0): %s", msg)
	if !strings.HasPrefix(msg, "cuda: ") || strings.Contains(msg, "\n") {
		t.Fatalf("error %q: want one line starting with \"cuda: \"", msg)
	}
	// Whatever is missing is named: the driver library, a GPU for it, cuBLAS.
	named := false
	for _, what := range []string{"libcuda.so.1", "cuInit", "cuBLAS", "GPU"} {
		named = named || strings.Contains(msg, what)
	}
	if !named {
		t.Fatalf("error %q names neither the driver, a GPU nor cuBLAS", msg)
	}
	// A second try fails the same way rather than calling into a library
	// that failed to load.
	if _, err2 := Open(0); err2 == nil || err2.Error() != msg {
		t.Fatalf("second Open: %v; want the same error", err2)
	}
}

func TestOpenRefusesANegativeIndex(t *testing.T) {
	if _, err := Open(-1); err == nil || !strings.Contains(err.Error(), "-1") {
		t.Fatalf("Open(-1) = %v", err)
	}
}

func TestOpenOrCPULogsOneLine(t *testing.T) {
	var log bytes.Buffer
	b := openOrCPU(newFakeMachine(t).searcher(), 0, slog.New(slog.NewTextHandler(&log, nil)))
	defer b.Close()
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if _, cpu := b.(training.CPUBackend); cpu {
		if len(lines) != 1 || !strings.Contains(lines[0], "training on the CPU") || !strings.Contains(lines[0], "cuda: ") {
			t.Fatalf("fallback logged %q; want one line saying why", log.String())
		}
		return
	}
	// A GPU machine whose driver an earlier test already loaded: no warning.
	if b.Name() != "cuda" || log.Len() != 0 {
		t.Fatalf("got backend %s and log %q", b.Name(), log.String())
	}
}
