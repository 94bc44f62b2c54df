//go:build cgo

package gpu

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/gradmesh/gradmesh/gpu/nvmltest"
)

// monitorRig runs a Monitor over a mock machine inside a synctest bubble:
// time.Sleep advances virtual time, and every status change is logged with
// the virtual time the Monitor reported it.
type monitorRig struct {
	t       *testing.T
	machine *nvmltest.Machine
	mon     *Monitor
	start   time.Time
	log     []Status
}

func startMonitor(t *testing.T, gpus int, cfg MonitorConfig) *monitorRig {
	t.Helper()
	m := nvmltest.New(gpus)
	mon, err := NewMonitor(open(t, m, procFS(map[uint32]string{4242: "blender", ownPID: "gradmesh"})), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &monitorRig{t: t, machine: m, mon: mon, start: time.Now()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		mon.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	synctest.Wait()
	return r
}

// until advances virtual time to at (since the start, off the 500 ms poll
// grid so that no poll races the test) and collects the changes reported.
func (r *monitorRig) until(at time.Duration) Status {
	r.t.Helper()
	time.Sleep(time.Until(r.start.Add(at)))
	synctest.Wait()
	select {
	case s := <-r.mon.Changes():
		r.log = append(r.log, s)
	default:
	}
	return r.mon.Status()
}

// lastReported is the newest status Changes delivered.
func (r *monitorRig) lastReported() Status {
	r.t.Helper()
	if len(r.log) == 0 {
		r.t.Fatal("Changes delivered nothing")
	}
	return r.log[len(r.log)-1]
}

// since is when s began, relative to the start.
func (r *monitorRig) since(s Status) time.Duration { return s.Since.Sub(r.start) }

func monitorConfig() MonitorConfig {
	return MonitorConfig{
		Idle:    IdleConfig{UtilThresholdPercent: 10, Grace: 30 * time.Second},
		Device:  0,
		OwnPIDs: []uint32{ownPID},
	}
}

var (
	ownerProcess = nvml.ProcessInfo{Pid: 4242, UsedGpuMemory: 2 << 30}
	ownProcess   = nvml.ProcessInfo{Pid: ownPID, UsedGpuMemory: 20 << 30}
)

// train puts gradmesh's own full load on GPU i.
func train(g *nvmltest.GPU) {
	g.Util, g.UsedBytes, g.Compute = 100, 512<<20+20<<30, []nvml.ProcessInfo{ownProcess}
}

func TestMonitorYieldsWithinTwoSecondsOfTheOwner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startMonitor(t, 1, monitorConfig())
		if s := r.until(29750 * time.Millisecond); s.State != StateYielded {
			t.Fatalf("before the grace window: %+v", s)
		}
		s := r.until(30250 * time.Millisecond)
		if s.State != StateContributing || r.since(s) != 30*time.Second || s.Device != 0 || s.UUID != r.machine.UUID(0) ||
			s.MemoryBudgetBytes != 144384<<20-512<<20 || s.Name != "NVIDIA H200 141GB HBM3e" || s.MemoryTotalBytes != 144384<<20 {
			t.Fatalf("after the grace window: %+v (since %v)", s, r.since(s))
		}
		r.machine.Set(0, train)
		if s := r.until(60250 * time.Millisecond); s.State != StateContributing || r.since(s) != 30*time.Second {
			t.Fatalf("gradmesh's own load made it change: %+v", s)
		}
		ownerAt := 60250 * time.Millisecond
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Compute = append(g.Compute, ownerProcess) })
		s = r.until(ownerAt + 2*time.Second)
		if s.State != StateYielded || s.Reason != "process 4242 (blender) is using the GPU" || s.MemoryBudgetBytes != 0 {
			t.Fatalf("owner's process: %+v", s)
		}
		if lag := r.since(s) - ownerAt; lag < 0 || lag > DefaultPollInterval {
			t.Errorf("yielded %v after the owner's process appeared, want within one %v poll", lag, DefaultPollInterval)
		}
		if last := r.lastReported(); last != s {
			t.Errorf("Changes delivered %+v, Status is %+v", last, s)
		}
	})
}

func TestMonitorResumesOnlyAfterTheGraceWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startMonitor(t, 1, monitorConfig())
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Util, g.Compute = 80, []nvml.ProcessInfo{ownerProcess} })
		if s := r.until(10250 * time.Millisecond); s.State != StateYielded {
			t.Fatalf("owner at work: %+v", s)
		}
		leftAt := 10250 * time.Millisecond
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Util, g.Compute = 0, nil })
		// The first poll to see the GPU free is at 10.5 s; grace runs from there.
		if s := r.until(leftAt + 30*time.Second); s.State != StateYielded || !strings.Contains(s.Reason, "waiting out the 30s grace window") {
			t.Fatalf("before the grace window ended: %+v", s)
		}
		s := r.until(leftAt + 31*time.Second)
		if s.State != StateContributing || r.since(s) != 40500*time.Millisecond {
			t.Fatalf("after the grace window: %+v since %v, want contributing since 40.5s", s, r.since(s))
		}
	})
}

func TestMonitorDoesNotFlapWithFlappingUtilization(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startMonitor(t, 1, monitorConfig())
		// Someone runs a short job every 10 s for 5 minutes.
		for at := 250 * time.Millisecond; at < 5*time.Minute; at += time.Second {
			busy := at%(10*time.Second) < time.Second
			r.machine.Set(0, func(g *nvmltest.GPU) { g.Util = map[bool]uint32{true: 90, false: 2}[busy] })
			if s := r.until(at + time.Second); s.State != StateYielded {
				t.Fatalf("%v: %+v", at, s)
			}
		}
		if s := r.until(5*time.Minute + 31*time.Second); s.State != StateContributing {
			t.Fatalf("quiet for the grace window: %+v", s)
		}
		// Contributing, gradmesh's own load comes and goes between steps.
		for at := 6 * time.Minute; at < 8*time.Minute; at += 700 * time.Millisecond {
			r.machine.Set(0, func(g *nvmltest.GPU) {
				train(g)
				if at%(1400*time.Millisecond) == 0 {
					g.Util = 0
				}
			})
			r.until(at)
		}
		var states []State
		for _, s := range r.log {
			states = append(states, s.State)
		}
		want := []State{StateYielded, StateContributing}
		if len(r.log) != 2 || states[0] != want[0] || states[1] != want[1] {
			t.Errorf("reported %v, want %v", states, want)
		}
	})
}

func TestMonitorGPUDisappearsAndReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := monitorConfig()
		cfg.Device = AnyGPU
		r := startMonitor(t, 1, cfg)
		if s := r.until(31250 * time.Millisecond); s.State != StateContributing {
			t.Fatalf("idle GPU: %+v", s)
		}
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Lost = true })
		s := r.until(31750 * time.Millisecond)
		if s.State != StateNoGPU || s.Device != -1 || s.Reason != "GPU 0 unreadable: name: ERROR_GPU_IS_LOST" {
			t.Fatalf("lost GPU: %+v", s)
		}
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Lost = false })
		r.machine.Plug(0)
		if s = r.until(40250 * time.Millisecond); s.State != StateNoGPU || s.Reason != "no GPU found" {
			t.Fatalf("unplugged: %+v", s)
		}
		r.machine.Plug(1)
		if s = r.until(40750 * time.Millisecond); s.State != StateYielded {
			t.Fatalf("back: %+v, want yielded until a new grace window passes", s)
		}
		if s = r.until(70750 * time.Millisecond); s.State != StateContributing || r.since(s) != 70500*time.Millisecond {
			t.Fatalf("back for the grace window: %+v since %v", s, r.since(s))
		}
	})
}

func TestMonitorFixedIndexThatIsMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := monitorConfig()
		cfg.Device = 3
		r := startMonitor(t, 2, cfg)
		if s := r.until(time.Minute); s.State != StateNoGPU || s.Reason != "GPU 3 unreadable: device handle: ERROR_INVALID_ARGUMENT" {
			t.Fatalf("%+v", s)
		}
	})
}

func TestMonitorMovesToAnotherIdleGPU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := monitorConfig()
		cfg.Device = AnyGPU
		r := startMonitor(t, 3, cfg)
		// GPU 1 has the most memory to lend, GPU 2 is the owner's.
		r.machine.Set(0, func(g *nvmltest.GPU) { g.UsedBytes = 4 << 30 })
		r.machine.Set(2, func(g *nvmltest.GPU) { g.Graphics = []nvml.ProcessInfo{ownerProcess} })
		s := r.until(31 * time.Second)
		if s.State != StateContributing || s.Device != 1 || s.UUID != r.machine.UUID(1) {
			t.Fatalf("first choice: %+v", s)
		}
		// GPU 0's owner drops by and leaves: when GPU 0 is lendable again it
		// offers as much memory as GPU 1, but gradmesh stays where it is.
		r.machine.Set(1, train)
		r.machine.Set(0, func(g *nvmltest.GPU) { g.UsedBytes, g.Compute = 512<<20, []nvml.ProcessInfo{ownerProcess} })
		r.until(32 * time.Second)
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Compute = nil })
		if s = r.until(70 * time.Second); s.Device != 1 {
			t.Fatalf("left the GPU in use for an equally good one: %+v", s)
		}
		movedAt := 70250 * time.Millisecond
		r.machine.Set(1, func(g *nvmltest.GPU) { g.Compute = append(g.Compute, ownerProcess) })
		s = r.until(movedAt + time.Second)
		if s.State != StateContributing || s.Device != 0 || r.since(s) != 30*time.Second {
			t.Fatalf("owner took GPU 1: %+v, want GPU 0 at once", s)
		}
		if last := r.lastReported(); last.Device != 0 {
			t.Errorf("the move was not reported: %+v", last)
		}
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Compute = []nvml.ProcessInfo{ownerProcess} })
		if s = r.until(movedAt + 2*time.Second); s.State != StateYielded || s.Device != 0 {
			t.Fatalf("owner everywhere: %+v", s)
		}
	})
}

func TestChangesKeepsOnlyTheNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startMonitor(t, 1, monitorConfig())
		time.Sleep(31 * time.Second) // nobody reads Changes meanwhile
		r.machine.Set(0, func(g *nvmltest.GPU) { g.Compute = []nvml.ProcessInfo{ownerProcess} })
		time.Sleep(time.Second)
		synctest.Wait()
		if s := <-r.mon.Changes(); s.State != StateYielded || s != r.mon.Status() {
			t.Errorf("Changes held %+v, want the latest status %+v", s, r.mon.Status())
		}
		select {
		case s := <-r.mon.Changes():
			t.Errorf("a stale status was kept: %+v", s)
		default:
		}
	})
}

func TestNewMonitorRejectsBadConfig(t *testing.T) {
	m := nvmltest.New(1)
	s := open(t, m, nil)
	for want, cfg := range map[string]MonitorConfig{
		"poll interval -1s":        {Idle: DefaultIdleConfig(), PollInterval: -time.Second},
		"device -2":                {Idle: DefaultIdleConfig(), Device: -2},
		"utilization threshold 0%": {},
	} {
		if _, err := NewMonitor(s, cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}

// TestMonitorYieldLagIsAtMostOnePoll lets the owner arrive at every phase
// of the poll cycle: the yield comes with the next poll, never later.
func TestMonitorYieldLagIsAtMostOnePoll(t *testing.T) {
	var worst, sum time.Duration
	const phases = 10
	for k := range phases {
		synctest.Test(t, func(t *testing.T) {
			r := startMonitor(t, 1, monitorConfig())
			r.until(31 * time.Second)
			r.machine.Set(0, train)
			ownerAt := 40*time.Second + time.Duration(k)*DefaultPollInterval/phases + time.Millisecond
			time.Sleep(time.Until(r.start.Add(ownerAt)))
			r.machine.Set(0, func(g *nvmltest.GPU) { g.Graphics = []nvml.ProcessInfo{ownerProcess} })
			s := r.until(ownerAt + 2*time.Second)
			lag := r.since(s) - ownerAt
			if s.State != StateYielded || lag <= 0 || lag > DefaultPollInterval {
				t.Fatalf("owner at %v: %+v, lag %v", ownerAt, s, lag)
			}
			worst, sum = max(worst, lag), sum+lag
		})
	}
	t.Logf("yield lag over %d phases: mean %v, worst %v (poll interval %v)", phases, sum/phases, worst, DefaultPollInterval)
}

func BenchmarkMonitorPoll8GPUs(b *testing.B) {
	m := nvmltest.New(8)
	for i := range 8 {
		m.Set(i, func(g *nvmltest.GPU) { g.Compute = []nvml.ProcessInfo{ownProcess, ownerProcess} })
	}
	cfg := monitorConfig()
	cfg.Device = AnyGPU
	mon, err := NewMonitor(open(b, m, procFS(map[uint32]string{4242: "blender"})), cfg)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for b.Loop() {
		now = now.Add(DefaultPollInterval)
		mon.poll(now)
	}
}

func TestMonitorPollOnce(t *testing.T) {
	m := nvmltest.New(2)
	m.Set(0, func(g *nvmltest.GPU) { g.Compute = []nvml.ProcessInfo{ownerProcess} })
	cfg := monitorConfig()
	cfg.Device, cfg.Idle.Grace = AnyGPU, 0
	mon, err := NewMonitor(open(t, m, procFS(map[uint32]string{4242: "blender"})), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s := mon.Poll(); s.State != StateContributing || s.Device != 1 || s.UUID != m.UUID(1) {
		t.Fatalf("GPU 1 free, no grace: %+v", s)
	}
	cfg.Device = 0
	mon, _ = NewMonitor(open(t, m, procFS(map[uint32]string{4242: "blender"})), cfg)
	if s := mon.Poll(); s.State != StateYielded || s.Reason != "process 4242 (blender) is using the GPU" {
		t.Fatalf("GPU 0 busy: %+v", s)
	}
}

func TestMonitorReportsTheFirstPollEvenWithoutAGPU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := monitorConfig()
		cfg.Device = AnyGPU
		m := nvmltest.New(1)
		m.Plug(0)
		mon, err := NewMonitor(open(t, m, nil), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if s := mon.Status(); s.State != StateNoGPU || !s.Since.IsZero() {
			t.Fatalf("before the first poll: %+v", s)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go mon.Run(ctx)
		synctest.Wait()
		select {
		case s := <-mon.Changes():
			if s.State != StateNoGPU || s.Reason != "no GPU found" || s.Since.IsZero() {
				t.Errorf("first report: %+v", s)
			}
		default:
			t.Fatal("the first poll, unchanged from the initial no-gpu, was not reported")
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		select {
		case s := <-mon.Changes():
			t.Errorf("reported again with nothing changed: %+v", s)
		default:
		}
	})
}
