package topology

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Propagation speeds. Radio crosses the air at c; light in standard
// single-mode fiber travels at c divided by its group index, 1.468 at
// 1550 nm, which is about 4.9 µs per km.
const (
	speedOfLightKmPerSec = 299_792.458
	fiberGroupIndex      = 1.468
	radioSecondsPerKm    = 1 / speedOfLightKmPerSec
	fiberSecondsPerKm    = fiberGroupIndex / speedOfLightKmPerSec
)

// Random streams of one seed: placement and each device's mobility draw
// from separate streams, so moving one device never changes another's path.
const (
	edgePlacementStream = 0x65646765 // "edge"
	edgeMobilityStream  = 0x6d6f7665 << 32
	edgeSummaryStream   = 0x73756d6d
)

// EdgePosition is a point in the area, in km from its lower-left corner.
type EdgePosition struct{ X, Y float64 }

func (p EdgePosition) distKm(q EdgePosition) float64 { return math.Hypot(p.X-q.X, p.Y-q.Y) }

// EdgeNetwork is one generated edge network: where the sites, hubs and
// devices are, which site each device is attached to, and what each device's
// radio link offers. Delays follow from the geometry:
//
//   - two devices on one site talk through the site's MEC host (local
//     breakout): one network element;
//   - devices on different sites of one hub cross site, aggregation, hub,
//     aggregation, site;
//   - devices under different hubs also cross the backbone between hubs.
//
// The round trip between devices i and j is the sum of both devices' air
// round trips plus twice the one-way radio propagation (at c) and the
// one-way wired path (fiber at 4.9 µs/km times the route factor, plus each
// element's hop delay). It is symmetric. An EdgeNetwork is not safe for
// concurrent use while Move runs.
type EdgeNetwork struct {
	cfg EdgeConfig

	sites     []EdgePosition
	hubSite   []int     // hub h sits at site hubSite[h]
	siteHub   []int     // nearest hub of each site
	siteToHub []float64 // one-way fiber seconds from each site to its hub
	hubToHub  []float64 // one-way seconds between different hubs: fiber, core routers and the second hub, H×H

	hopSeconds    float64 // one network element
	viaHubSeconds float64 // the elements from a site through its hub to another site

	devices   []EdgePosition
	class     []int     // index into cfg.Classes
	site      []int     // attachment
	accessRTT []float64 // air-interface round trip, seconds
	uplink    []float64 // bits/s
	downlink  []float64 // bits/s

	motion  []deviceMotion
	elapsed time.Duration
}

// GenerateEdge places cfg's sites and devices with the given seed and
// attaches every device to its nearest site. The same config and seed give
// the same network.
func GenerateEdge(cfg EdgeConfig, seed uint64) (*EdgeNetwork, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Classes = slices.Clone(cfg.Classes)
	rng := rand.New(rand.NewPCG(seed, edgePlacementStream))
	hop := cfg.Backhaul.HopDelay.Seconds()
	en := &EdgeNetwork{cfg: cfg, hopSeconds: hop,
		// site, aggregation switches, hub, aggregation switches, site
		viaHubSeconds: float64(3+2*cfg.Backhaul.AggregationHops) * hop}
	en.placeSites(rng)
	en.placeHubs(rng)
	en.placeDevices(rng)
	en.motion = make([]deviceMotion, cfg.Devices)
	for i := range en.motion {
		en.motion[i] = newDeviceMotion(cfg, cfg.Classes[en.class[i]], seed, i)
	}
	return en, nil
}

func (en *EdgeNetwork) randomPosition(rng *rand.Rand) EdgePosition {
	return EdgePosition{rng.Float64() * en.cfg.AreaKm, rng.Float64() * en.cfg.AreaKm}
}

func (en *EdgeNetwork) placeSites(rng *rand.Rand) {
	en.sites = make([]EdgePosition, en.cfg.Sites)
	for s := range en.sites {
		en.sites[s] = en.randomPosition(rng)
	}
}

// placeHubs puts the hubs at sites chosen by farthest-point sampling, so they
// spread over the area as central offices do, then connects every site to
// its nearest hub and prices the fiber between them.
func (en *EdgeNetwork) placeHubs(rng *rand.Rand) {
	b := en.cfg.Backhaul
	hop := b.HopDelay.Seconds()
	nearest := make([]float64, len(en.sites)) // distance to the closest hub chosen so far
	for s := range nearest {
		nearest[s] = math.Inf(1)
	}
	en.siteHub = make([]int, len(en.sites))
	next := rng.IntN(len(en.sites))
	for h := range b.Hubs {
		en.hubSite = append(en.hubSite, next)
		far := 0
		for s, p := range en.sites {
			if d := p.distKm(en.sites[next]); d < nearest[s] {
				nearest[s], en.siteHub[s] = d, h
			}
			if nearest[s] > nearest[far] {
				far = s
			}
		}
		next = far
	}
	en.siteToHub = make([]float64, len(en.sites))
	for s, d := range nearest {
		en.siteToHub[s] = d * b.RouteFactor * fiberSecondsPerKm
	}
	en.hubToHub = make([]float64, b.Hubs*b.Hubs)
	for a := range b.Hubs {
		for c := range b.Hubs {
			if a != c {
				d := en.sites[en.hubSite[a]].distKm(en.sites[en.hubSite[c]])
				en.hubToHub[a*b.Hubs+c] = d*b.RouteFactor*fiberSecondsPerKm + float64(b.CoreHops+1)*hop
			}
		}
	}
}

// placeDevices apportions the devices to classes by share, in a random
// order, and draws each one's position, air round trip and rates.
func (en *EdgeNetwork) placeDevices(rng *rand.Rand) {
	n := en.cfg.Devices
	en.class = apportion(en.cfg.Classes, n)
	rng.Shuffle(n, func(i, j int) { en.class[i], en.class[j] = en.class[j], en.class[i] })
	en.devices = make([]EdgePosition, n)
	en.site = make([]int, n)
	en.accessRTT = make([]float64, n)
	en.uplink = make([]float64, n)
	en.downlink = make([]float64, n)
	for i := range n {
		cl := en.cfg.Classes[en.class[i]]
		en.devices[i] = en.randomPosition(rng)
		en.site[i] = en.nearestSite(en.devices[i])
		lo, hi := cl.AccessRTTMin.Seconds(), cl.AccessRTTMax.Seconds()
		en.accessRTT[i] = lo + rng.Float64()*(hi-lo)
		// Lognormal with mean 1: exp(σZ − σ²/2).
		f := math.Exp(cl.RateSpread*rng.NormFloat64() - cl.RateSpread*cl.RateSpread/2)
		en.uplink[i] = cl.UplinkMbps * 1e6 * f
		en.downlink[i] = cl.DownlinkMbps * 1e6 * f
	}
}

// apportion gives each class round(share·n) devices by the largest-remainder
// method, so the mix is exact rather than a random draw, and lists the class
// of each device in class order.
func apportion(classes []EdgeAccessClass, n int) []int {
	total := 0.0
	for _, c := range classes {
		total += c.Share
	}
	counts := make([]int, len(classes))
	rest := make([]float64, len(classes))
	given := 0
	for k, c := range classes {
		exact := c.Share / total * float64(n)
		counts[k] = int(exact)
		rest[k] = exact - float64(counts[k])
		given += counts[k]
	}
	order := make([]int, len(classes))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rest[a] > rest[b]:
			return -1
		case rest[a] < rest[b]:
			return 1
		}
		return 0
	})
	for k := 0; given < n; k++ {
		counts[order[k]]++
		given++
	}
	class := make([]int, 0, n)
	for k, c := range counts {
		for range c {
			class = append(class, k)
		}
	}
	return class
}

// nearestSite returns the site closest to p, the lowest index on ties.
func (en *EdgeNetwork) nearestSite(p EdgePosition) int {
	best, bestD := 0, math.Inf(1)
	for s, q := range en.sites {
		dx, dy := p.X-q.X, p.Y-q.Y
		if d := dx*dx + dy*dy; d < bestD {
			best, bestD = s, d
		}
	}
	return best
}

// pathSeconds is the one-way wired delay from site a to site b.
func (en *EdgeNetwork) pathSeconds(a, b int) float64 {
	if a == b {
		return en.hopSeconds // turned around by the site's MEC host
	}
	d := en.siteToHub[a] + en.siteToHub[b] + en.viaHubSeconds
	if ha, hb := en.siteHub[a], en.siteHub[b]; ha != hb {
		d += en.hubToHub[ha*len(en.hubSite)+hb]
	}
	return d
}

// edgeSeconds is the part of device i's delay that does not depend on its
// peer: its air round trip and twice its radio propagation to its site.
func (en *EdgeNetwork) edgeSeconds(i int) float64 {
	return en.accessRTT[i] + 2*en.devices[i].distKm(en.sites[en.site[i]])*radioSecondsPerKm
}

func (en *EdgeNetwork) rttSeconds(i, j int) float64 {
	if i == j {
		return 0
	}
	return en.edgeSeconds(i) + en.edgeSeconds(j) + 2*en.pathSeconds(en.site[i], en.site[j])
}

// RTT returns the round-trip time between devices i and j (0 for i == j).
// i and j must be in [0, Devices()); other values panic like an index out
// of range.
func (en *EdgeNetwork) RTT(i, j int) time.Duration {
	en.checkDevice(i)
	en.checkDevice(j)
	return edgeDuration(en.rttSeconds(i, j))
}

// Matrix returns every device pair's round-trip time in milliseconds, row =
// sender, diagonal 0, as a LatencyMatrix. It costs Devices² entries.
func (en *EdgeNetwork) Matrix() *LatencyMatrix {
	n := len(en.devices)
	edge := make([]float64, n)
	for i := range n {
		edge[i] = en.edgeSeconds(i)
	}
	// The same sums as rttSeconds, unrolled over per-device arrays: this
	// loop runs Devices² times.
	fiber, hub := make([]float64, n), make([]int, n)
	for j, sj := range en.site {
		fiber[j], hub[j] = en.siteToHub[sj], en.siteHub[sj]
	}
	hubs := len(en.hubSite)
	ms := make([]float64, n*n)
	// Row by row, computing both halves: writing the mirror entry instead
	// strides through memory, which is slower at thousands of devices.
	for i := range n {
		row := ms[i*n : (i+1)*n]
		si, ei, fi := en.site[i], edge[i], fiber[i]
		hubRow := en.hubToHub[hub[i]*hubs : (hub[i]+1)*hubs]
		for j, sj := range en.site[:len(row)] {
			w := en.hopSeconds
			if sj != si {
				w = fi + fiber[j] + en.viaHubSeconds
				if h := hub[j]; h != hub[i] {
					w += hubRow[h]
				}
			}
			row[j] = (ei + edge[j] + 2*w) * 1000
		}
		row[i] = 0
	}
	return &LatencyMatrix{N: n, MS: ms}
}

func (en *EdgeNetwork) checkDevice(i int) {
	if i < 0 || i >= len(en.devices) {
		panic(fmt.Sprintf("topology: edge network has devices 0..%d, not %d", len(en.devices)-1, i))
	}
}

// Config returns the configuration the network was generated from.
func (en *EdgeNetwork) Config() EdgeConfig {
	c := en.cfg
	c.Classes = slices.Clone(c.Classes)
	return c
}

// Devices returns the number of devices.
func (en *EdgeNetwork) Devices() int { return len(en.devices) }

// DevicePositions returns a copy of every device's current position.
func (en *EdgeNetwork) DevicePositions() []EdgePosition { return slices.Clone(en.devices) }

// SitePositions returns a copy of every site's position.
func (en *EdgeNetwork) SitePositions() []EdgePosition { return slices.Clone(en.sites) }

// HubSites returns the site each hub sits at.
func (en *EdgeNetwork) HubSites() []int { return slices.Clone(en.hubSite) }

// SiteHubs returns the hub each site connects to.
func (en *EdgeNetwork) SiteHubs() []int { return slices.Clone(en.siteHub) }

// Attachment returns a copy of the site each device is attached to.
func (en *EdgeNetwork) Attachment() []int { return slices.Clone(en.site) }

// Class returns device i's access class. i must be in [0, Devices()).
func (en *EdgeNetwork) Class(i int) EdgeAccessClass {
	en.checkDevice(i)
	return en.cfg.Classes[en.class[i]]
}

// AccessRTT returns device i's air-interface round trip to its site.
func (en *EdgeNetwork) AccessRTT(i int) time.Duration {
	en.checkDevice(i)
	return edgeDuration(en.accessRTT[i])
}

// UplinkBitsPerSec returns device i's sending rate.
func (en *EdgeNetwork) UplinkBitsPerSec(i int) float64 {
	en.checkDevice(i)
	return en.uplink[i]
}

// DownlinkBitsPerSec returns device i's receiving rate.
func (en *EdgeNetwork) DownlinkBitsPerSec(i int) float64 {
	en.checkDevice(i)
	return en.downlink[i]
}
