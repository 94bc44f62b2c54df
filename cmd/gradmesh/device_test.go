package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/gpu"
	"github.com/gradmesh/gradmesh/training"
)

// withNVML makes gradmesh open NVML through open for the test.
func withNVML(t *testing.T, open func() (*gpu.NVML, error)) {
	t.Helper()
	saved := openNVML
	openNVML = open
	t.Cleanup(func() { openNVML = saved })
}

// withoutDriver makes this machine read as having no NVIDIA driver, as CI
// machines do, whatever the machine running the test has.
func withoutDriver(t *testing.T) {
	withNVML(t, func() (*gpu.NVML, error) { return nil, gpu.ErrNoDriver })
}

// withCUDA makes gradmesh open its GPU backend through open for the test.
func withCUDA(t *testing.T, open func(gpu.Status) (training.Backend, error)) {
	t.Helper()
	saved := openCUDA
	openCUDA = open
	t.Cleanup(func() { openCUDA = saved })
}

// logWatch is a stderr that reports when every one of want has been logged.
type logWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want []string
	seen chan struct{}
	once sync.Once
}

func newLogWatch(want ...string) *logWatch { return &logWatch{want: want, seen: make(chan struct{})} }

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	text := w.buf.String()
	if !slices.ContainsFunc(w.want, func(s string) bool { return !strings.Contains(text, s) }) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// lines returns the logged lines that contain s.
func (w *logWatch) lines(s string) []string {
	var out []string
	for _, line := range strings.Split(w.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

var statusAddrRe = regexp.MustCompile(`status server up"? addr=(\S+)`)

// joinUntil runs `gradmesh join args...` in process until its log shows
// want and the peer waits for others, then reads its /status, stops it as a
// signal would, and returns the exit code, the log and the status.
func joinUntil(t *testing.T, want string, args ...string) (code int, log *logWatch, st gossip.Status) {
	t.Helper()
	args = append([]string{"join", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0", "--status-addr", "127.0.0.1:0",
		"--key", t.TempDir() + "/peer.key", "--rounds", "5"}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log = newLogWatch(want, "waiting for run members")
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &bytes.Buffer{}, log) }()
	select {
	case <-log.seen:
	case code = <-done:
		t.Fatalf("join exited %d before logging %q:\n%s", code, want, log)
	case <-time.After(30 * time.Second):
		t.Fatalf("join did not log %q in 30 s:\n%s", want, log)
	}
	if m := statusAddrRe.FindStringSubmatch(log.String()); m != nil {
		resp, err := http.Get("http://" + m[1] + "/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	return <-done, log, st
}

func TestJoinDeviceAutoWithoutDriverTrainsOnTheCPU(t *testing.T) {
	withoutDriver(t)
	code, log, st := joinUntil(t, "waiting for run members", "--device", "auto")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	device := log.lines("training on the CPU")
	if len(device) != 1 || !strings.Contains(device[0], `reason="no NVIDIA driver found"`) {
		t.Errorf("want one line saying why the CPU, got %q", device)
	}
	for _, word := range []string{"GPU", "CUDA", "NVIDIA"} {
		if got := log.lines(word); len(got) > 1 {
			t.Errorf("%d lines mention %s, want only the one: %q", len(got), word, got)
		}
	}
	if g := st.GPU; g == nil || g.State != "no-gpu" || g.Reason != "no NVIDIA driver found" || g.Device != -1 {
		t.Errorf("/status gpu section: %+v", g)
	}
}

func TestJoinDeviceCPUNeverTouchesNVML(t *testing.T) {
	withNVML(t, func() (*gpu.NVML, error) {
		t.Error("--device cpu opened NVML")
		return nil, gpu.ErrNoDriver
	})
	code, log, st := joinUntil(t, "waiting for run members", "--device", "cpu")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	if got := log.lines("GPU"); len(got) != 0 {
		t.Errorf("--device cpu logged about a GPU: %q", got)
	}
	if g := st.GPU; g == nil || g.State != "disabled" || g.Reason != "--device cpu" {
		t.Errorf("/status gpu section: %+v", g)
	}
}

func TestDeviceGPUWithoutDriverFails(t *testing.T) {
	withoutDriver(t)
	for _, cmd := range [][]string{
		{"join", "--device", "gpu", "--no-mdns", "--key", t.TempDir() + "/peer.key"},
		{"sim", "--device", "gpu", "--peers", "2", "--epochs", "1"},
	} {
		code, out, errOut := gradmesh(t, cmd...)
		want := fmt.Sprintf("gradmesh %s: --device gpu: no NVIDIA driver found\n", cmd[0])
		if code != 1 || errOut != want || strings.Contains(out, "accuracy") {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 1 and %q", cmd, code, errOut, out, want)
		}
	}
}

func TestSimDeviceAutoWithoutDriverTrainsOnTheCPU(t *testing.T) {
	withoutDriver(t)
	code, out, errOut := gradmesh(t, "sim", "--peers", "4", "--epochs", "2", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `msg="training on the CPU" reason="no NVIDIA driver found"`) {
		t.Errorf("stderr %q: want one line saying why the CPU", errOut)
	}
	if !strings.Contains(out, "\ndevice: cpu (no NVIDIA driver found)\n") {
		t.Errorf("the summary does not say which device ran:\n%s", out)
	}
}

func TestDeviceFlagsRejectBadValues(t *testing.T) {
	withNVML(t, func() (*gpu.NVML, error) {
		t.Error("NVML opened despite a bad flag")
		return nil, gpu.ErrNoDriver
	})
	key := t.TempDir() + "/peer.key"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sim", "--device", "tpu"}, `--device "tpu": want auto, gpu or cpu`},
		{[]string{"join", "--device", "GPU", "--key", key}, `--device "GPU"`},
		{[]string{"sim", "--gpu-index", "-2"}, "--gpu-index -2"},
		{[]string{"join", "--gpu-idle-util", "0", "--key", key}, "--gpu-idle-util 0"},
		{[]string{"join", "--gpu-idle-util", "101", "--key", key}, "--gpu-idle-util 101"},
		{[]string{"join", "--gpu-grace", "-1s", "--key", key}, "--gpu-grace -1s"},
		{[]string{"join", "--gpu-hours", "22:00-7", "--key", key}, `--gpu-hours: gpu: time window "22:00-7"`},
		{[]string{"join", "--gpu-hours", "09:00-09:00", "--key", key}, "empty window"},
		{[]string{"join", "--gpu-mem-cap", "lots", "--key", key}, `--gpu-mem-cap: "lots" is not a size`},
		{[]string{"join", "--gpu-mem-cap", "-1GiB", "--key", key}, `"-1GiB" is not a size`},
		{[]string{"join", "--gpu-max-power", "-5", "--key", key}, "power cap -5 W"},
		{[]string{"join", "--gpu-max-temp", "5000", "--key", key}, "--gpu-max-temp 5000"},
		{[]string{"join", "--gpu-tolerate", "Xorg,,gnome-shell", "--key", key}, "an empty process name"},
	} {
		code, _, errOut := gradmesh(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("gradmesh %v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, errOut, c.want)
		}
	}
}

func TestLendingFlagsMakeTheIdleConfig(t *testing.T) {
	f := deviceFlags{mode: "auto", index: -1, idleUtil: 25, grace: 90 * time.Second, hours: "22:00-07:00, 12:00-13:30",
		maxTemp: 80, maxPower: 250.5, memCap: "8GiB", tolerate: "Xorg, gnome-shell"}
	cfg, err := f.idleConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := gpu.IdleConfig{UtilThresholdPercent: 25, Grace: 90 * time.Second,
		Windows:         []gpu.TimeWindow{{Start: 22 * time.Hour, End: 7 * time.Hour}, {Start: 12 * time.Hour, End: 13*time.Hour + 30*time.Minute}},
		MaxTemperatureC: 80, MaxPowerW: 250.5, MemoryCapBytes: 8 << 30, TolerateProcesses: []string{"Xorg", "gnome-shell"}}
	if fmt.Sprint(cfg) != fmt.Sprint(want) {
		t.Errorf("idle config\n got %+v\nwant %+v", cfg, want)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]uint64{
		"1048576": 1 << 20, "512MiB": 512 << 20, "8GiB": 8 << 30, "1.5 GiB": 3 << 29, "2GB": 2e9, "64KB": 64e3, "100B": 100, "1TiB": 1 << 40,
	} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "0", "-3MiB", "8 gigs", "NaN", "1e30GiB"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) accepted", bad)
		}
	}
}
