//go:build cgo

package gpu

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/gradmesh/gradmesh/gpu/nvmltest"
)

// span is a stretch of virtual time since the rig's start; end is the end of
// the run while it lasts.
type span struct{ from, to time.Duration }

// TestComputeNeverStepsOnTheGPUWithAForeignProcess drives a peer's compute
// through random schedules of an owner starting and stopping GPU work,
// utilization spikes and the GPU dropping off the bus, and checks every GPU
// step and every backend lifetime against when a foreign process was on the
// GPU: no GPU step starts once the Monitor could have seen the process (its
// next poll) until the grace window after it left; a backend open when the
// owner arrives is closed, its memory freed, within one poll and one step;
// and no backend is opened while the owner is there or within the grace
// window after.
func TestComputeNeverStepsOnTheGPUWithAForeignProcess(t *testing.T) {
	const (
		seeds = 10
		run   = 8 * time.Minute
		grace = 10 * time.Second
	)
	var gpuSteps, yields, arrivals int
	for seed := range uint64(seeds) {
		synctest.Test(t, func(t *testing.T) {
			cfg := computeMonitorConfig()
			cfg.Idle.Grace = grace
			fake := newFakeGPU()
			r := startCompute(t, 1, cfg, fake)
			rng := rand.New(rand.NewPCG(seed, 0x5afe))
			var foreign []span
			var owner, lost bool
			for at := time.Duration(0); ; {
				at += time.Duration(rng.ExpFloat64() * float64(15*time.Second))
				at = at.Round(time.Millisecond) + time.Duration(rng.IntN(1000))*time.Microsecond
				if at >= run {
					break
				}
				r.until(at)
				switch k := rng.IntN(10); {
				case k < 6: // the owner starts or stops a job, compute or graphics
					owner = !owner
					graphics := rng.IntN(2) == 0
					r.machine.Set(0, func(g *nvmltest.GPU) {
						notOwner := func(p nvml.ProcessInfo) bool { return p.Pid != ownerProcess.Pid }
						g.Compute = slices.DeleteFunc(g.Compute, func(p nvml.ProcessInfo) bool { return !notOwner(p) })
						g.Graphics = slices.DeleteFunc(g.Graphics, func(p nvml.ProcessInfo) bool { return !notOwner(p) })
						switch {
						case owner && graphics:
							g.Graphics = append(g.Graphics, ownerProcess)
						case owner:
							g.Compute = append(g.Compute, ownerProcess)
						}
					})
					if owner {
						foreign = append(foreign, span{from: at, to: run})
						arrivals++
					} else {
						foreign[len(foreign)-1].to = at
					}
				case k < 9: // load without a listed process (another VM, MPS)
					u := uint32(rng.IntN(101))
					r.machine.Set(0, func(g *nvmltest.GPU) { g.Util = u })
				default:
					lost = !lost
					r.machine.Set(0, func(g *nvmltest.GPU) { g.Lost = lost })
				}
			}
			r.until(run)
			_, lives, steps, _ := fake.snapshot()
			st := r.comp.Status()
			gpuSteps += len(steps)
			yields += int(st.Yields)
			for _, s := range steps {
				start := r.at(s.start)
				for _, f := range foreign {
					if start >= f.from+pollInterval(cfg) && start < f.to+grace {
						t.Errorf("seed %d: GPU step at %v while the owner was there (%v to %v) or within the grace window after", seed, start, f.from, f.to)
					}
				}
			}
			for _, life := range lives {
				opened, closed := r.at(life.opened), run
				if !life.closed.IsZero() {
					closed = r.at(life.closed)
				}
				for _, f := range foreign {
					if opened >= f.from && opened < f.to+grace {
						t.Errorf("seed %d: backend opened at %v, owner there from %v to %v", seed, opened, f.from, f.to)
					}
					if opened < f.from && closed > f.from && closed-f.from > pollInterval(cfg)+fake.stepTime {
						t.Errorf("seed %d: owner arrived at %v, GPU memory freed only at %v", seed, f.from, closed)
					}
				}
			}
		})
	}
	if gpuSteps == 0 || yields == 0 {
		t.Fatalf("the schedules never lent the GPU (%d GPU steps) or never yielded it (%d yields): the property was not exercised", gpuSteps, yields)
	}
	t.Logf("%d schedules: %d owner arrivals, %d yields, %d GPU steps checked", seeds, arrivals, yields, gpuSteps)
}

// pollInterval is the interval a Monitor polls at with c.
func pollInterval(c MonitorConfig) time.Duration {
	if c.PollInterval == 0 {
		return DefaultPollInterval
	}
	return c.PollInterval
}

// TestComputeYieldLatencyOverPhases lets the owner arrive at phases spread
// over the Monitor's poll cycle, with short and long GPU steps, and
// measures in virtual time how long after the owner's process appeared
// gradmesh's GPU memory was freed. Run with -v for the table.
func TestComputeYieldLatencyOverPhases(t *testing.T) {
	const phases = 40
	var table strings.Builder
	fmt.Fprintf(&table, "| GPU step | phases | mean | p50 | p95 | max |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, stepTime := range []time.Duration{5 * time.Millisecond, 50 * time.Millisecond} {
		var lags []time.Duration
		for k := range phases {
			synctest.Test(t, func(t *testing.T) {
				cfg := computeMonitorConfig()
				cfg.Idle.Grace = time.Second
				fake := newFakeGPU()
				fake.stepTime = stepTime
				// Spread the stepper's phase too, so the poll that sees the
				// owner sometimes finds a step in flight.
				r := startComputeStepping(t, 1, cfg, fake, time.Duration(k*7919)*time.Microsecond%(stepTime+stepGap))
				r.until(2 * time.Second)
				// 137 ms apart: every phase of the poll cycle, and polls at
				// different points of the step cycle.
				ownerAt := 2*time.Second + time.Duration(k)*137*time.Millisecond + 1234*time.Microsecond
				time.Sleep(time.Until(r.start.Add(ownerAt)))
				r.machine.Set(0, func(g *nvmltest.GPU) { g.Compute = append(g.Compute, ownerProcess) })
				r.until(ownerAt + 3*time.Second)
				_, lives, _, live := fake.snapshot()
				if len(lives) != 1 || lives[0].closed.IsZero() || live != 0 {
					t.Fatalf("phase %d: not freed: %+v, %d bytes", k, lives, live)
				}
				lag := r.at(lives[0].closed) - ownerAt
				if lag <= 0 || lag > DefaultPollInterval+stepTime {
					t.Errorf("phase %d: freed %v after the owner appeared; want within one %v poll and one %v step", k, lag, DefaultPollInterval, stepTime)
				}
				lags = append(lags, lag)
			})
		}
		slices.Sort(lags)
		var sum time.Duration
		for _, l := range lags {
			sum += l
		}
		ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
		fmt.Fprintf(&table, "| %v | %d | %s | %s | %s | %s |\n", stepTime, len(lags), ms(sum/time.Duration(len(lags))),
			ms(lags[len(lags)/2]), ms(lags[len(lags)*95/100]), ms(lags[len(lags)-1]))
	}
	t.Logf("yield latency, owner's process appearing → gradmesh's GPU memory freed (virtual time, %v polls):\n%s", DefaultPollInterval, table.String())
}
