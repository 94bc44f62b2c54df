package gpu

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// DefaultPollInterval is how often the Monitor reads NVML: a yield then
// comes within half a second of the owner's process appearing.
const DefaultPollInterval = 500 * time.Millisecond

// AnyGPU lets the Monitor use whichever GPU is idle.
const AnyGPU = -1

// DeviceReader is what the Monitor reads GPUs through; *NVML is one.
type DeviceReader interface {
	DeviceCount() (int, error)
	ReadGPU(index int) GPU
}

// MonitorConfig says what the Monitor watches and how.
type MonitorConfig struct {
	Idle         IdleConfig
	PollInterval time.Duration // 0: DefaultPollInterval
	// Device is the NVML index of the GPU to lend, or AnyGPU: then the
	// Monitor keeps to the GPU it uses while that stays idle, and otherwise
	// moves to the idle GPU with the largest memory budget.
	Device int
	// OwnPIDs are gradmesh's processes on the GPU; nil: this process.
	OwnPIDs []uint32
}

// Status is what the peer needs to act on: train on Device within
// MemoryBudgetBytes while State is StateContributing; otherwise stop GPU
// steps, free GPU memory and keep mixing on the CPU. With AnyGPU, a new
// Device while still contributing means: leave the old GPU now (its owner
// is back), continue on the new one.
type Status struct {
	State             State     `json:"state"`
	Reason            string    `json:"reason"`
	Device            int       `json:"device"` // NVML index; -1 when there is no GPU
	UUID              string    `json:"uuid,omitempty"`
	Name              string    `json:"name,omitempty"`               // the GPU's product name
	MemoryTotalBytes  uint64    `json:"memory_total_bytes,omitempty"` // the GPU's memory; 0 when unread
	MemoryBudgetBytes uint64    `json:"memory_budget_bytes"`
	Since             time.Time `json:"since"` // when State last changed
}

// Monitor polls NVML, runs an IdlePolicy per GPU and reports when what
// gradmesh may do changes. It reads time from the time package, so a test
// inside a testing/synctest bubble runs it on virtual time.
type Monitor struct {
	src      DeviceReader
	cfg      MonitorConfig
	policies map[string]*IdlePolicy // by GPU UUID

	mu      sync.Mutex
	status  Status
	changes chan Status
}

// NewMonitor checks cfg and returns a Monitor that has not polled yet.
func NewMonitor(src DeviceReader, cfg MonitorConfig) (*Monitor, error) {
	if src == nil {
		return nil, fmt.Errorf("gpu: NewMonitor: nil DeviceReader")
	}
	if err := cfg.Idle.Validate(); err != nil {
		return nil, err
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.PollInterval < 0 {
		return nil, fmt.Errorf("gpu: poll interval %v: must be positive", cfg.PollInterval)
	}
	if cfg.Device < AnyGPU {
		return nil, fmt.Errorf("gpu: device %d: want an NVML index (0, 1, ...) or AnyGPU", cfg.Device)
	}
	if cfg.OwnPIDs == nil {
		cfg.OwnPIDs = []uint32{uint32(os.Getpid())}
	}
	return &Monitor{
		src:      src,
		cfg:      cfg,
		policies: map[string]*IdlePolicy{},
		status:   Status{State: StateNoGPU, Reason: "not polled yet", Device: -1},
		changes:  make(chan Status, 1),
	}, nil
}

// Run polls every PollInterval, the first time at once, until ctx ends.
// Call it once, from one goroutine.
func (m *Monitor) Run(ctx context.Context) error {
	tick := time.NewTicker(m.cfg.PollInterval)
	defer tick.Stop()
	for {
		m.poll(time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Poll reads the GPUs once, now, and returns the resulting status. It is
// for a one-off answer (a short job asking whether a GPU is free); a Monitor
// that Runs polls by itself. With a zero grace window, one free sample is
// enough to lend a GPU.
func (m *Monitor) Poll() Status {
	m.poll(time.Now())
	return m.Status()
}

// Status is the latest status; safe to call from any goroutine.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Changes delivers the first poll's Status, then one whenever the state or
// the device changes; Status has the current reason in between. It holds
// only the newest: a slow reader skips stale statuses but never misses the
// latest, so a yield cannot be lost.
func (m *Monitor) Changes() <-chan Status { return m.changes }

// deviceDecision is one GPU's decision in one poll.
type deviceDecision struct {
	index    int
	uuid     string
	name     string
	memory   uint64 // total bytes
	decision Decision
}

// poll reads the GPUs once and publishes the resulting status.
func (m *Monitor) poll(now time.Time) {
	indices, absent := m.devicesToRead()
	var seen []deviceDecision
	keep := map[string]bool{}
	for _, i := range indices {
		g := m.src.ReadGPU(i)
		if g.Err != "" {
			absent = fmt.Sprintf("GPU %d unreadable: %s", i, g.Err)
			continue
		}
		key := g.UUID
		if key == "" {
			key = fmt.Sprintf("index %d", i)
		}
		p := m.policies[key]
		if p == nil {
			p, _ = NewIdlePolicy(m.cfg.Idle) // validated in NewMonitor
			m.policies[key] = p
		}
		keep[key] = true
		d := p.Observe(Sample{Time: now, GPU: &g, OwnPIDs: m.cfg.OwnPIDs})
		var total uint64
		if g.MemoryTotalBytes != nil {
			total = *g.MemoryTotalBytes
		}
		seen = append(seen, deviceDecision{index: i, uuid: g.UUID, name: g.Name, memory: total, decision: d})
	}
	// A GPU that vanished starts afresh, grace and all, if it comes back.
	for key := range m.policies {
		if !keep[key] {
			delete(m.policies, key)
		}
	}
	m.publish(now, m.choose(seen, absent))
}

// devicesToRead lists the NVML indices to read, or says why there are none.
func (m *Monitor) devicesToRead() ([]int, string) {
	if m.cfg.Device != AnyGPU {
		return []int{m.cfg.Device}, ""
	}
	n, err := m.src.DeviceCount()
	if err != nil {
		return nil, err.Error()
	}
	indices := make([]int, n)
	for i := range indices {
		indices[i] = i
	}
	return indices, "no GPU found"
}

// choose turns the per-GPU decisions into one status: keep the GPU in use
// while it may be used, else take the idle GPU with the most memory to
// lend, else report why the GPU in use (or the first one) is not lendable.
func (m *Monitor) choose(seen []deviceDecision, absent string) Status {
	prev := m.Status()
	var best *deviceDecision
	for i := range seen {
		c := &seen[i]
		if c.decision.State != StateContributing {
			continue
		}
		if prev.State == StateContributing && c.uuid == prev.UUID {
			best = c
			break
		}
		if best == nil || c.decision.MemoryBudgetBytes > best.decision.MemoryBudgetBytes {
			best = c
		}
	}
	if best == nil && len(seen) > 0 {
		best = &seen[0]
		for i := range seen {
			if seen[i].uuid == prev.UUID {
				best = &seen[i]
			}
		}
	}
	if best == nil {
		return Status{State: StateNoGPU, Reason: absent, Device: -1}
	}
	return Status{
		State:             best.decision.State,
		Reason:            best.decision.Reason,
		Device:            best.index,
		UUID:              best.uuid,
		Name:              best.name,
		MemoryTotalBytes:  best.memory,
		MemoryBudgetBytes: best.decision.MemoryBudgetBytes,
	}
}

// publish records s and reports it when something a reader acts on changed.
func (m *Monitor) publish(now time.Time, s Status) {
	m.mu.Lock()
	prev := m.status
	s.Since = prev.Since
	if s.State != prev.State || prev.Since.IsZero() {
		s.Since = now
	}
	m.status = s
	m.mu.Unlock()
	if s.State == prev.State && s.UUID == prev.UUID && !prev.Since.IsZero() {
		return // a new reason alone (say, load came and went while yielded) changes nothing to do
	}
	// Only poll sends, so after dropping a stale status the send cannot block.
	select {
	case <-m.changes:
	default:
	}
	m.changes <- s
}
