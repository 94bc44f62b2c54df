package gpu

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

const ownPID = 1000

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// idleGPU is an H200 at rest: 512 MiB used by the driver, nothing running.
func idleGPU() *GPU {
	return &GPU{
		Index: 0, UUID: "GPU-0",
		MemoryTotalBytes: ptr(uint64(144384 << 20)), MemoryUsedBytes: ptr(uint64(512 << 20)),
		UtilizationGPUPercent: ptr(uint32(0)), UtilizationMemoryPercent: ptr(uint32(0)),
		TemperatureC: ptr(uint32(35)), PowerDrawW: ptr(90.0), PowerLimitW: ptr(700.0),
		Processes: []Process{},
	}
}

// with returns a copy of g changed by f.
func with(g *GPU, f func(*GPU)) *GPU {
	c := *g
	c.Processes = append([]Process{}, g.Processes...)
	f(&c)
	return &c
}

func busyGPU(util uint32) *GPU {
	return with(idleGPU(), func(g *GPU) { g.UtilizationGPUPercent = &util })
}

func ownerGPU() *GPU {
	return with(idleGPU(), func(g *GPU) {
		g.Processes = append(g.Processes, Process{PID: 4242, Name: "blender", Kind: KindCompute})
	})
}

// trainingGPU is the GPU while gradmesh trains on it: full load, 20 GiB of
// its own memory, hot and drawing power.
func trainingGPU() *GPU {
	return with(idleGPU(), func(g *GPU) {
		g.UtilizationGPUPercent, g.TemperatureC, g.PowerDrawW = ptr(uint32(100)), ptr(uint32(70)), ptr(450.0)
		g.MemoryUsedBytes = ptr(uint64(512<<20 + 20<<30))
		g.Processes = []Process{{PID: ownPID, Name: "gradmesh", UsedMemoryBytes: ptr(uint64(20 << 30)), Kind: KindCompute}}
	})
}

func newPolicy(t *testing.T, cfg IdleConfig) *IdlePolicy {
	t.Helper()
	p, err := NewIdlePolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testConfig() IdleConfig {
	return IdleConfig{UtilThresholdPercent: 10, Grace: 30 * time.Second}
}

// feed observes g every 500 ms over [from, to) and returns the last
// decision and the time of the first sample in each state.
func feed(p *IdlePolicy, from, to time.Duration, g *GPU) (last Decision, first map[State]time.Duration) {
	first = map[State]time.Duration{}
	for at := from; at < to; at += 500 * time.Millisecond {
		last = p.Observe(Sample{Time: t0.Add(at), GPU: g, OwnPIDs: []uint32{ownPID}})
		if _, seen := first[last.State]; !seen {
			first[last.State] = at
		}
	}
	return last, first
}

func TestContributesOnlyAfterTheGraceWindow(t *testing.T) {
	p := newPolicy(t, testConfig())
	if d := p.Decision(); d.State != StateNoGPU {
		t.Fatalf("before any sample: %+v", d)
	}
	d, first := feed(p, 0, 40*time.Second, idleGPU())
	if first[StateContributing] != 30*time.Second {
		t.Errorf("contributing from %v, want exactly the 30s grace after the first free sample", first[StateContributing])
	}
	wantBudget := uint64(144384<<20 - 512<<20)
	if d.State != StateContributing || d.MemoryBudgetBytes != wantBudget {
		t.Errorf("decision %+v, want contributing with %d bytes", d, wantBudget)
	}
	if !strings.Contains(d.Reason, "140.5 GiB") {
		t.Errorf("reason %q does not state the budget", d.Reason)
	}
}

func TestOwnLoadDoesNotYieldButTheOwnerDoesAtOnce(t *testing.T) {
	p := newPolicy(t, testConfig())
	feed(p, 0, 30*time.Second, idleGPU())
	before := p.Observe(Sample{Time: t0.Add(30 * time.Second), GPU: idleGPU(), OwnPIDs: []uint32{ownPID}})
	// gradmesh trains: 100% utilization, its own process and memory.
	d, first := feed(p, 31*time.Second, 90*time.Second, trainingGPU())
	if d != before || len(first) != 1 {
		t.Fatalf("own training changed the decision: %+v (states seen %v), was %+v", d, first, before)
	}
	// The owner starts a render next to it: yield on that very sample.
	owner := with(trainingGPU(), func(g *GPU) {
		g.Processes = append(g.Processes, Process{PID: 4242, Name: "blender", Kind: KindGraphics})
	})
	d = p.Observe(Sample{Time: t0.Add(90 * time.Second), GPU: owner, OwnPIDs: []uint32{ownPID}})
	if d.State != StateYielded || d.Reason != "process 4242 (blender) is using the GPU" || d.MemoryBudgetBytes != 0 {
		t.Errorf("owner's process: %+v, want an immediate yield naming it", d)
	}
}

func TestResumesOnlyAGraceWindowAfterTheOwnerLeaves(t *testing.T) {
	p := newPolicy(t, testConfig())
	feed(p, 0, 40*time.Second, idleGPU())
	feed(p, 40*time.Second, 100*time.Second, ownerGPU())
	// Owner gone at 100 s; gradmesh's lingering context idles on the GPU.
	lingering := with(trainingGPU(), func(g *GPU) { g.UtilizationGPUPercent = ptr(uint32(0)) })
	_, first := feed(p, 100*time.Second, 200*time.Second, lingering)
	if first[StateContributing] != 130*time.Second {
		t.Errorf("resumed at %v, want 130s (owner left at 100s, grace 30s); states %v", first[StateContributing], first)
	}
}

func TestFlappingUtilizationDoesNotFlap(t *testing.T) {
	p := newPolicy(t, testConfig())
	changes := 0
	prev := p.Decision().State
	// Busy for one sample every 20 s: never free for the 30 s grace.
	for at := time.Duration(0); at < 10*time.Minute; at += 500 * time.Millisecond {
		g := idleGPU()
		if at%(20*time.Second) == 0 {
			g = busyGPU(95)
		}
		d := p.Observe(Sample{Time: t0.Add(at), GPU: g, OwnPIDs: []uint32{ownPID}})
		if d.State == StateContributing {
			t.Fatalf("contributing at %v although busy every 20s", at)
		}
		if d.State != prev {
			changes++
			prev = d.State
		}
	}
	if changes != 1 { // no-gpu → yielded, and nothing after
		t.Errorf("%d state changes, want 1", changes)
	}
	// The last busy sample was at 9m40s, the first free one at 9m40.5s:
	// contribution follows 30 s after that.
	_, first := feed(p, 10*time.Minute, 11*time.Minute, idleGPU())
	if first[StateContributing] != 10*time.Minute+10500*time.Millisecond {
		t.Errorf("contributing from %v, want 10m10.5s", first[StateContributing])
	}
}

func TestUtilizationIsTheThresholdOnlyWhileNotContributing(t *testing.T) {
	p := newPolicy(t, testConfig())
	d, _ := feed(p, 0, 40*time.Second, busyGPU(10))
	if d.State != StateYielded || d.Reason != "utilization at or above 10%" {
		t.Errorf("at the threshold: %+v", d)
	}
	if d, _ = feed(p, 40*time.Second, 80*time.Second, busyGPU(9)); d.State != StateContributing {
		t.Errorf("below the threshold for the grace window: %+v", d)
	}
	// Contributing, utilization without a foreign process is gradmesh's own.
	if d, _ = feed(p, 80*time.Second, 90*time.Second, busyGPU(100)); d.State != StateContributing {
		t.Errorf("busy while contributing, no foreign process: %+v", d)
	}
}

func TestCaps(t *testing.T) {
	cases := []struct {
		name   string
		cfg    func(*IdleConfig)
		gpu    *GPU
		reason string
	}{
		{"temperature", func(c *IdleConfig) { c.MaxTemperatureC = 69 }, trainingGPU(), "temperature over the 69 °C cap"},
		{"temperature unreadable", func(c *IdleConfig) { c.MaxTemperatureC = 80 },
			with(trainingGPU(), func(g *GPU) { g.TemperatureC = nil }), "temperature unreadable, so the 80 °C cap cannot be kept"},
		{"power", func(c *IdleConfig) { c.MaxPowerW = 300 }, trainingGPU(), "power draw over the 300 W cap"},
		{"power unreadable", func(c *IdleConfig) { c.MaxPowerW = 300 },
			with(trainingGPU(), func(g *GPU) { g.PowerDrawW = nil }), "power draw unreadable, so the 300 W cap cannot be kept"},
		{"memory", func(c *IdleConfig) { c.MemoryCapBytes = 16 << 30 }, trainingGPU(), "gradmesh uses more than its 16.0 GiB memory cap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			c.cfg(&cfg)
			p := newPolicy(t, cfg)
			if d, _ := feed(p, 0, 40*time.Second, idleGPU()); d.State != StateContributing {
				t.Fatalf("idle GPU within caps: %+v", d)
			}
			// Within the caps, training carries on ...
			ok := with(trainingGPU(), func(g *GPU) {
				g.TemperatureC, g.PowerDrawW = ptr(uint32(60)), ptr(250.0)
				g.Processes[0].UsedMemoryBytes = ptr(uint64(8 << 30))
			})
			if d, _ := feed(p, 40*time.Second, 50*time.Second, ok); d.State != StateContributing {
				t.Fatalf("within the caps: %+v", d)
			}
			// ... and the first sample over one yields.
			d := p.Observe(Sample{Time: t0.Add(50 * time.Second), GPU: c.gpu, OwnPIDs: []uint32{ownPID}})
			if d.State != StateYielded || d.Reason != c.reason {
				t.Errorf("over the cap: %+v, want yielded: %q", d, c.reason)
			}
			// Back within the caps, it waits out a whole grace window again.
			_, first := feed(p, 51*time.Second, 2*time.Minute, idleGPU())
			if first[StateContributing] != 81*time.Second {
				t.Errorf("resumed at %v, want 81s", first[StateContributing])
			}
		})
	}
}

func TestMemoryBudgetIsWhatOthersLeaveWithinTheCap(t *testing.T) {
	other := with(idleGPU(), func(g *GPU) {
		g.MemoryUsedBytes = ptr(uint64(512<<20 + 100<<30)) // a tolerated process holds 100 GiB
		g.Processes = []Process{{PID: 1, Name: "Xorg", UsedMemoryBytes: ptr(uint64(100 << 30)), Kind: KindGraphics}}
	})
	cfg := testConfig()
	cfg.TolerateProcesses = []string{"Xorg"}
	d, _ := feed(newPolicy(t, cfg), 0, 31*time.Second, other)
	if want := uint64(144384<<20 - 512<<20 - 100<<30); d.MemoryBudgetBytes != want {
		t.Errorf("budget %d, want %d", d.MemoryBudgetBytes, want)
	}
	cfg.MemoryCapBytes = 8 << 30
	if d, _ = feed(newPolicy(t, cfg), 0, 31*time.Second, other); d.MemoryBudgetBytes != 8<<30 {
		t.Errorf("capped budget %d", d.MemoryBudgetBytes)
	}
	full := with(other, func(g *GPU) { g.MemoryUsedBytes = g.MemoryTotalBytes })
	if d, _ = feed(newPolicy(t, cfg), 0, 31*time.Second, full); d.State != StateYielded || d.Reason != "no GPU memory left free for gradmesh" {
		t.Errorf("full GPU: %+v", d)
	}
}

func TestToleratedProcessesAreNotTheOwner(t *testing.T) {
	cfg := testConfig()
	cfg.TolerateProcesses = []string{"Xorg"}
	display := with(idleGPU(), func(g *GPU) { g.Processes = []Process{{PID: 1, Name: "Xorg", Kind: KindGraphics}} })
	p := newPolicy(t, cfg)
	if d, _ := feed(p, 0, 31*time.Second, display); d.State != StateContributing {
		t.Fatalf("with only Xorg: %+v", d)
	}
	unnamed := with(display, func(g *GPU) { g.Processes = append(g.Processes, Process{PID: 7, Kind: KindCompute}) })
	if d := p.Observe(Sample{Time: t0.Add(31 * time.Second), GPU: unnamed, OwnPIDs: []uint32{ownPID}}); d.Reason != "process 7 is using the GPU" {
		t.Errorf("unnamed process beside Xorg: %+v", d)
	}
}

func TestTimeWindows(t *testing.T) {
	zone := time.FixedZone("CET", 3600)
	night, _ := ParseTimeWindow("22:00-07:00")
	cfg := testConfig()
	cfg.Windows = []TimeWindow{night}
	p := newPolicy(t, cfg)
	at := func(h, m int) Sample {
		return Sample{Time: time.Date(2025, 6, 1, h, m, 0, 0, zone), GPU: idleGPU(), OwnPIDs: []uint32{ownPID}}
	}
	for m := 0; m < 60; m++ {
		if d := p.Observe(at(21, m)); d.State != StateYielded || d.Reason != "outside the contribution hours 22:00-07:00" {
			t.Fatalf("21:%02d: %+v", m, d)
		}
	}
	// Free since 21:00: contribution starts when the window opens.
	if d := p.Observe(at(22, 0)); d.State != StateContributing {
		t.Errorf("22:00: %+v", d)
	}
	next := func(h, m int) Sample { s := at(h, m); s.Time = s.Time.AddDate(0, 0, 1); return s }
	if d := p.Observe(next(6, 59)); d.State != StateContributing {
		t.Errorf("06:59 next day: %+v", d)
	}
	if d := p.Observe(next(7, 0)); d.State != StateYielded {
		t.Errorf("07:00: %+v, want an immediate yield", d)
	}
}

func TestNoGPUAndUnreadableGPU(t *testing.T) {
	p := newPolicy(t, testConfig())
	feed(p, 0, 40*time.Second, idleGPU())
	d := p.Observe(Sample{Time: t0.Add(40 * time.Second), Absent: "GPU 0 unplugged"})
	if d.State != StateNoGPU || d.Reason != "GPU 0 unplugged" {
		t.Errorf("absent: %+v", d)
	}
	lost := &GPU{Index: 0, Err: "name: ERROR_GPU_IS_LOST"}
	if d = p.Observe(Sample{Time: t0.Add(41 * time.Second), GPU: lost}); d.State != StateNoGPU || d.Reason != "GPU 0 unreadable: name: ERROR_GPU_IS_LOST" {
		t.Errorf("lost: %+v", d)
	}
	// Back: the grace window starts over.
	if _, first := feed(p, 42*time.Second, 80*time.Second, idleGPU()); first[StateContributing] != 72*time.Second {
		t.Errorf("contributing again at %v, want 72s", first[StateContributing])
	}
	noList := with(idleGPU(), func(g *GPU) {
		g.Processes, g.Unavailable = nil, map[string]string{"processes": "ERROR_NO_PERMISSION"}
	})
	if d = p.Observe(Sample{Time: t0.Add(80 * time.Second), GPU: noList}); d.State != StateYielded ||
		d.Reason != "cannot list the GPU's processes (ERROR_NO_PERMISSION), so the owner cannot be seen" {
		t.Errorf("processes unlisted: %+v", d)
	}
}

func TestClockSteppingBackRestartsGrace(t *testing.T) {
	p := newPolicy(t, testConfig())
	feed(p, 0, 20*time.Second, idleGPU())
	// The clock steps back 1 h: 20 s of freedom can no longer be vouched for.
	_, first := feed(p, -time.Hour, -time.Hour+40*time.Second, idleGPU())
	if first[StateContributing] != -time.Hour+30*time.Second {
		t.Errorf("contributing at %v, want 30s after the step", first[StateContributing])
	}
}

func TestIdleConfigValidate(t *testing.T) {
	cases := map[string]func(*IdleConfig){
		"utilization threshold 0%":   func(c *IdleConfig) { c.UtilThresholdPercent = 0 },
		"utilization threshold 101%": func(c *IdleConfig) { c.UtilThresholdPercent = 101 },
		"grace window -1s":           func(c *IdleConfig) { c.Grace = -time.Second },
		"power cap -5 W":             func(c *IdleConfig) { c.MaxPowerW = -5 },
		"time window 1 (08:00-08:00)": func(c *IdleConfig) {
			c.Windows = []TimeWindow{{8 * time.Hour, 8 * time.Hour}}
		},
		"tolerated process names": func(c *IdleConfig) { c.TolerateProcesses = []string{" "} },
	}
	for want, f := range cases {
		cfg := DefaultIdleConfig()
		f(&cfg)
		if _, err := NewIdlePolicy(cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v", want, err)
		}
	}
	if err := DefaultIdleConfig().Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
}

// TestNeverContributesBesideAForeignProcess drives the policy with random
// samples (foreign processes, load, heat, lost GPUs, own training) and
// checks the safety rule on every one: a foreign process on the GPU means
// the decision is not idle-contributing, always on that same sample.
func TestNeverContributesBesideAForeignProcess(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		cfg := IdleConfig{UtilThresholdPercent: 15, Grace: 5 * time.Second, MaxTemperatureC: 85, MemoryCapBytes: 64 << 30}
		p := newPolicy(t, cfg)
		contributed := 0
		now := t0
		for i := 0; i < 2000; i++ {
			now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
			var g *GPU
			foreign := false
			switch r := rng.Float64(); {
			case r < 0.02:
				g = nil // lost
			case r < 0.10:
				g, foreign = ownerGPU(), true
			case r < 0.20:
				g = busyGPU(uint32(rng.IntN(101)))
			case r < 0.50:
				g = trainingGPU()
				g.TemperatureC = ptr(uint32(60 + rng.IntN(30)))
				if rng.IntN(10) == 0 {
					g.Processes = append(g.Processes, Process{PID: uint32(2000 + rng.IntN(100)), Kind: KindGraphics})
					foreign = true
				}
			default:
				g = idleGPU()
			}
			d := p.Observe(Sample{Time: now, GPU: g, OwnPIDs: []uint32{ownPID}})
			if foreign && d.State == StateContributing {
				t.Fatalf("seed %d sample %d: contributing beside a foreign process: %+v", seed, i, d)
			}
			if d.State == StateContributing {
				contributed++
			}
		}
		if contributed == 0 {
			t.Errorf("seed %d: never contributed; the property was not exercised", seed)
		}
	}
}
