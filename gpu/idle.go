package gpu

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// State is what gradmesh may do with a GPU now.
type State string

const (
	// StateNoGPU: there is no GPU to use (none present, lost, or NVML
	// failed).
	StateNoGPU State = "no-gpu"
	// StateContributing: the owner is away; gradmesh may train on the GPU
	// within the memory budget.
	StateContributing State = "idle-contributing"
	// StateYielded: the GPU is the owner's (busy, too hot, outside the
	// agreed hours, or not yet free for the whole grace window); gradmesh
	// must stop its GPU work and free its GPU memory.
	StateYielded State = "yielded"
)

// IdleConfig is an owner's terms for lending a GPU.
//
// Telling "the owner is back" from "gradmesh is busy": while gradmesh
// trains, its own kernels drive the GPU's utilization up, so utilization
// counts only while gradmesh is not contributing. During contribution the
// owner shows up as a process of theirs on the GPU (any CUDA or graphics
// context appears in NVML's process lists), and gradmesh yields on the first
// sample that lists one. NVML's per-process utilization
// (GetProcessUtilization) was considered and left out: it can only
// attribute load to processes the lists already show, on whose presence we
// yield anyway, and it is unsupported on some GPUs.
type IdleConfig struct {
	// UtilThresholdPercent: while gradmesh is not contributing, device
	// utilization at or above this (1-100) means someone is using the GPU.
	UtilThresholdPercent uint32
	// Grace is how long the GPU must stay free (no foreign process, low
	// utilization, caps kept) before gradmesh takes it. Each busy sample
	// restarts it, so flapping load cannot make gradmesh flap.
	Grace time.Duration
	// Windows are the hours gradmesh may use the GPU; none means any time.
	// Entering a window needs no new grace: it is the owner's schedule, not
	// their presence.
	Windows []TimeWindow
	// MaxTemperatureC and MaxPowerW cap the GPU while gradmesh uses it
	// (0: no cap). Exceeding a cap yields at once and restarts the grace
	// window; a cap on a counter the GPU cannot report is never met.
	MaxTemperatureC uint32
	MaxPowerW       float64
	// MemoryCapBytes bounds the GPU memory gradmesh may take (0: all the
	// memory others leave free). Using more yields, like any cap.
	MemoryCapBytes uint64
	// TolerateProcesses names processes (as in /proc/PID/comm, e.g. "Xorg")
	// whose context on the GPU does not mean the owner is back: display
	// servers hold one all day. Their load still counts as utilization.
	TolerateProcesses []string
}

// DefaultIdleConfig is for a workstation GPU: borrowed after a minute below
// 10% utilization with no foreign process, at any hour, without caps.
func DefaultIdleConfig() IdleConfig {
	return IdleConfig{UtilThresholdPercent: 10, Grace: time.Minute}
}

// Validate says what is wrong with c, if anything.
func (c IdleConfig) Validate() error {
	if c.UtilThresholdPercent < 1 || c.UtilThresholdPercent > 100 {
		return fmt.Errorf("gpu: utilization threshold %d%%: want 1 to 100", c.UtilThresholdPercent)
	}
	if c.Grace < 0 {
		return fmt.Errorf("gpu: grace window %v: must not be negative", c.Grace)
	}
	if c.MaxPowerW < 0 || math.IsNaN(c.MaxPowerW) || math.IsInf(c.MaxPowerW, 0) {
		return fmt.Errorf("gpu: power cap %v W: want a positive number, or 0 for none", c.MaxPowerW)
	}
	for i, w := range c.Windows {
		if err := w.Validate(); err != nil {
			return fmt.Errorf("gpu: time window %d (%s): %v", i+1, w, err)
		}
	}
	for _, name := range c.TolerateProcesses {
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("gpu: tolerated process names must not be empty")
		}
	}
	return nil
}

// Sample is one look at a GPU.
type Sample struct {
	Time time.Time
	// GPU is nil (or has Err set) when there is no GPU to look at; Absent
	// then says why.
	GPU    *GPU
	Absent string
	// OwnPIDs are gradmesh's own processes: their contexts and memory are
	// not the owner's.
	OwnPIDs []uint32
}

// Decision is the policy's answer to a sample.
type Decision struct {
	State  State
	Reason string // for logs and /status; stable while its cause lasts
	// MemoryBudgetBytes is what gradmesh may allocate on the GPU; non-zero
	// only while contributing, and fixed when contribution starts.
	MemoryBudgetBytes uint64
}

// IdlePolicy decides, sample by sample, whether gradmesh may use one GPU.
// It is pure logic: time comes from the samples, and it does no I/O. Not
// safe for concurrent use.
type IdlePolicy struct {
	cfg       IdleConfig
	decision  Decision
	freeSince time.Time // first free sample of the current free stretch; zero while busy
	last      time.Time
}

// NewIdlePolicy starts in StateNoGPU until the first sample.
func NewIdlePolicy(cfg IdleConfig) (*IdlePolicy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &IdlePolicy{cfg: cfg, decision: Decision{State: StateNoGPU, Reason: "no sample yet"}}, nil
}

// Decision is the answer to the latest sample.
func (p *IdlePolicy) Decision() Decision { return p.decision }

// Observe takes a sample and returns what gradmesh may do now.
func (p *IdlePolicy) Observe(s Sample) Decision {
	if s.GPU == nil || s.GPU.Err != "" {
		p.freeSince, p.last = time.Time{}, time.Time{}
		why := s.Absent
		if s.GPU != nil {
			why = fmt.Sprintf("GPU %d unreadable: %s", s.GPU.Index, s.GPU.Err)
		}
		if why == "" {
			why = "no GPU"
		}
		return p.set(StateNoGPU, why, 0)
	}
	if s.Time.Before(p.last) { // a clock stepped back cannot vouch for the time free
		p.freeSince = time.Time{}
	}
	p.last = s.Time

	if why := p.busy(s); why != "" {
		p.freeSince = time.Time{}
		return p.set(StateYielded, why, 0)
	}
	if p.freeSince.IsZero() {
		p.freeSince = s.Time
	}
	if !p.inWindow(s.Time) {
		return p.set(StateYielded, "outside the contribution hours "+p.windows(), 0)
	}
	if p.decision.State == StateContributing {
		return p.decision
	}
	if s.Time.Sub(p.freeSince) < p.cfg.Grace {
		return p.set(StateYielded, fmt.Sprintf("free since %s; waiting out the %v grace window",
			p.freeSince.Format("15:04:05.000"), p.cfg.Grace), 0)
	}
	budget := p.memoryBudget(s)
	if budget == 0 {
		return p.set(StateYielded, "no GPU memory left free for gradmesh", 0)
	}
	return p.set(StateContributing, fmt.Sprintf("free for the %v grace window; gradmesh may use %s of GPU memory",
		p.cfg.Grace, formatBytes(budget)), budget)
}

func (p *IdlePolicy) set(state State, reason string, budget uint64) Decision {
	p.decision = Decision{State: state, Reason: reason, MemoryBudgetBytes: budget}
	return p.decision
}

// busy says why the GPU is not free in s, or "" when it is. Reasons name
// the cause without its changing value, so they stay put while it lasts.
func (p *IdlePolicy) busy(s Sample) string {
	g := s.GPU
	if !g.ProcessesListed() {
		return "cannot list the GPU's processes (" + g.Unavailable["processes"] + "), so the owner cannot be seen"
	}
	for _, proc := range g.Processes {
		if slices.Contains(s.OwnPIDs, proc.PID) || proc.Name != "" && slices.Contains(p.cfg.TolerateProcesses, proc.Name) {
			continue
		}
		if proc.Name != "" {
			return fmt.Sprintf("process %d (%s) is using the GPU", proc.PID, proc.Name)
		}
		return fmt.Sprintf("process %d is using the GPU", proc.PID)
	}
	if p.decision.State != StateContributing {
		switch util := g.UtilizationGPUPercent; {
		case util == nil:
			return "utilization unreadable, so the owner cannot be seen"
		case *util >= p.cfg.UtilThresholdPercent:
			return fmt.Sprintf("utilization at or above %d%%", p.cfg.UtilThresholdPercent)
		}
	}
	if c := p.cfg.MaxTemperatureC; c > 0 {
		switch t := g.TemperatureC; {
		case t == nil:
			return fmt.Sprintf("temperature unreadable, so the %d °C cap cannot be kept", c)
		case *t > c:
			return fmt.Sprintf("temperature over the %d °C cap", c)
		}
	}
	if c := p.cfg.MaxPowerW; c > 0 {
		switch w := g.PowerDrawW; {
		case w == nil:
			return fmt.Sprintf("power draw unreadable, so the %s cap cannot be kept", formatWatts(c))
		case *w > c:
			return fmt.Sprintf("power draw over the %s cap", formatWatts(c))
		}
	}
	if g.MemoryTotalBytes == nil || g.MemoryUsedBytes == nil {
		return "GPU memory unreadable, so no memory budget can be set"
	}
	if c := p.cfg.MemoryCapBytes; c > 0 && ownMemory(g, s.OwnPIDs) > c {
		return fmt.Sprintf("gradmesh uses more than its %s memory cap", formatBytes(c))
	}
	return ""
}

func (p *IdlePolicy) inWindow(t time.Time) bool {
	if len(p.cfg.Windows) == 0 {
		return true
	}
	return slices.ContainsFunc(p.cfg.Windows, func(w TimeWindow) bool { return w.Contains(t) })
}

func (p *IdlePolicy) windows() string {
	s := make([]string, len(p.cfg.Windows))
	for i, w := range p.cfg.Windows {
		s[i] = w.String()
	}
	return strings.Join(s, ", ")
}

// memoryBudget is the memory others leave free (total less what non-gradmesh
// processes and the driver hold), within the cap.
func (p *IdlePolicy) memoryBudget(s Sample) uint64 {
	g := s.GPU
	total, used := *g.MemoryTotalBytes, *g.MemoryUsedBytes
	othersUse := used - min(used, ownMemory(g, s.OwnPIDs))
	budget := total - min(total, othersUse)
	if c := p.cfg.MemoryCapBytes; c > 0 {
		budget = min(budget, c)
	}
	return budget
}

// ownMemory is what gradmesh's processes hold on g, as far as NVML says.
func ownMemory(g *GPU, own []uint32) uint64 {
	var sum uint64
	for _, proc := range g.Processes {
		if slices.Contains(own, proc.PID) && proc.UsedMemoryBytes != nil {
			sum += *proc.UsedMemoryBytes
		}
	}
	return sum
}
