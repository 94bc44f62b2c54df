package topology

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// EdgeHandover records a device that re-attached from one site to another.
type EdgeHandover struct {
	Device   int
	From, To int // sites
}

// deviceMotion is one device's random-waypoint state: it walks in a
// straight line at a constant speed to a uniformly drawn waypoint, then
// draws the next waypoint and speed. Each device draws from its own stream,
// so its path does not depend on how Move's steps are cut.
type deviceMotion struct {
	rng         *rand.Rand // nil for a device that never moves
	minKmPerSec float64
	maxKmPerSec float64
	kmPerSec    float64 // speed on the current leg
	waypoint    EdgePosition
	areaSideKm  float64
}

func newDeviceMotion(cfg EdgeConfig, cl EdgeAccessClass, seed uint64, device int) deviceMotion {
	if cl.SpeedMax == 0 {
		return deviceMotion{}
	}
	m := deviceMotion{
		rng:         rand.New(rand.NewPCG(seed, edgeMobilityStream+uint64(device))),
		minKmPerSec: cl.SpeedMin / 1000,
		maxKmPerSec: cl.SpeedMax / 1000,
		areaSideKm:  cfg.AreaKm,
	}
	m.nextLeg()
	return m
}

func (m *deviceMotion) nextLeg() {
	m.waypoint = EdgePosition{m.rng.Float64() * m.areaSideKm, m.rng.Float64() * m.areaSideKm}
	m.kmPerSec = m.minKmPerSec + m.rng.Float64()*(m.maxKmPerSec-m.minKmPerSec)
}

// advance returns where a device at p is after seconds of travel.
func (m *deviceMotion) advance(p EdgePosition, seconds float64) EdgePosition {
	for seconds > 0 {
		d := p.distKm(m.waypoint)
		need := d / m.kmPerSec
		if need > seconds {
			f := seconds / need
			return EdgePosition{p.X + (m.waypoint.X-p.X)*f, p.Y + (m.waypoint.Y-p.Y)*f}
		}
		p, seconds = m.waypoint, seconds-need
		m.nextLeg()
	}
	return p
}

// Move advances every mobile device by dt along its random-waypoint path,
// re-attaches each one that is now clearly closer to another site (by the
// config's HandoverMargin), and returns those handovers in device order.
// Devices whose class has no speed stay where they are, on their site.
// Besides handovers, moving changes a device's radio propagation to its site
// a little (3.3 µs per km).
func (en *EdgeNetwork) Move(dt time.Duration) ([]EdgeHandover, error) {
	if dt < 0 {
		return nil, fmt.Errorf("topology: edge network cannot move back in time (dt %v)", dt)
	}
	var handovers []EdgeHandover
	for i := range en.devices {
		m := &en.motion[i]
		if m.rng == nil {
			continue
		}
		en.devices[i] = m.advance(en.devices[i], dt.Seconds())
		if to := en.handoverTarget(i); to != en.site[i] {
			handovers = append(handovers, EdgeHandover{Device: i, From: en.site[i], To: to})
			en.site[i] = to
		}
	}
	en.elapsed += dt
	return handovers, nil
}

// handoverTarget is the site device i should be attached to: the nearest
// one if it beats the current site by the hysteresis margin, else the
// current site.
func (en *EdgeNetwork) handoverTarget(i int) int {
	p, cur := en.devices[i], en.site[i]
	best := en.nearestSite(p)
	if best != cur && p.distKm(en.sites[best]) < p.distKm(en.sites[cur])*(1-en.cfg.HandoverMargin) {
		return best
	}
	return cur
}

// Elapsed returns the total time the devices have moved.
func (en *EdgeNetwork) Elapsed() time.Duration { return en.elapsed }
