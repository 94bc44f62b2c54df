package topology

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// EdgeConfig describes a simulated edge/6G access network: base stations
// with a MEC host ("sites") and devices placed uniformly at random in a
// square area, devices attached to their nearest site over a radio access
// technology, sites joined by fiber to aggregation/MEC hubs and hubs to each
// other over a metro or regional backbone. Start from a preset (EdgeUrban6G,
// EdgeRural5G) and change what the experiment varies.
type EdgeConfig struct {
	Name    string  // used in errors and summaries
	AreaKm  float64 // side of the square area the sites and devices lie in, km
	Sites   int     // base stations, each with a MEC host for local breakout
	Devices int     // devices (simulated peers)
	// Classes is the access-technology mix; devices are apportioned to the
	// classes by Share.
	Classes  []EdgeAccessClass
	Backhaul EdgeBackhaul
	// HandoverMargin is the hysteresis of re-attachment: a device leaves its
	// site only for one closer by this fraction of its current distance, in
	// [0, 1). 0.15 is about the 2–3 dB offset of a 3GPP A3 handover event at a
	// path-loss exponent of 3–3.5, and keeps devices on a cell edge from
	// ping-ponging.
	HandoverMargin float64
}

// EdgeAccessClass is one kind of device and its radio link to its site.
type EdgeAccessClass struct {
	Name  string
	Share float64 // relative weight in the device mix, > 0 (shares need not sum to 1)
	// A device's air-interface round trip to its site (uplink plus downlink,
	// scheduling and processing included) is drawn uniformly from
	// [AccessRTTMin, AccessRTTMax] once, when the device is generated.
	AccessRTTMin, AccessRTTMax time.Duration
	// Mean user rates, Mbit/s. Every device scales both by one lognormal
	// factor of mean 1 and log-standard-deviation RateSpread: a device with a
	// poor radio channel is slow in both directions, and its uplink stays
	// below its downlink.
	UplinkMbps, DownlinkMbps float64
	RateSpread               float64
	// Mobility: random waypoint with leg speeds drawn uniformly from
	// [SpeedMin, SpeedMax] m/s. Both 0 means the device never moves.
	SpeedMin, SpeedMax float64
}

// EdgeBackhaul is the wired network behind the sites.
type EdgeBackhaul struct {
	// Hubs is the number of aggregation/MEC hubs (central offices), placed at
	// sites spread over the area; every site connects to its nearest hub.
	Hubs int
	// RouteFactor is fiber route length over straight-line distance, ≥ 1:
	// ducts follow streets and rail, so terrestrial fiber paths run about
	// 1.2–2 times the geographic distance.
	RouteFactor float64
	// HopDelay is the one-way switching and processing delay of each network
	// element a packet crosses (site router or MEC user-plane function,
	// aggregation switch, hub, core router): tens of µs on current gear.
	HopDelay time.Duration
	// AggregationHops counts the switches between a site and its hub, not
	// counting either end.
	AggregationHops int
	// CoreHops counts the backbone routers between two hubs, not counting
	// either hub.
	CoreHops int
}

// Limits that keep a typo from asking for terabytes: the latency matrix of
// the devices is Devices² entries.
const (
	maxEdgeDevices = 100_000
	maxEdgeSites   = 100_000
)

// EdgeUrban6G is a dense city centre with 6G small cells: 150 sites in 6×6 km
// (inter-site distance about 500 m, the 3GPP urban-macro layout), six MEC
// hubs, and a mix of 6G handsets, 6G vehicles, 5G handsets and fixed 6G
// devices.
//
// Sources of the numbers: ITU-R M.2160 (IMT-2030 framework) gives 0.1–1 ms
// over-the-air latency and 300–500 Mbit/s user-experienced rates for 6G;
// ITU-R M.2410 (IMT-2020) gives 1 ms (URLLC) to 4 ms (eMBB) user-plane
// latency and 100/50 Mbit/s down/up user-experienced rates for 5G, and
// deployed 5G networks measure roughly 150 Mbit/s down and 25 Mbit/s up at
// the median. Walking speed is about 1.4 m/s; urban traffic 20–50 km/h.
func EdgeUrban6G() EdgeConfig {
	return EdgeConfig{
		Name:    "urban-6g",
		AreaKm:  6,
		Sites:   150,
		Devices: 1000,
		Classes: []EdgeAccessClass{
			{Name: "6g-handset", Share: 0.5, AccessRTTMin: 100 * time.Microsecond, AccessRTTMax: time.Millisecond,
				UplinkMbps: 100, DownlinkMbps: 500, RateSpread: 0.6, SpeedMin: 0.5, SpeedMax: 1.8},
			{Name: "6g-vehicle", Share: 0.15, AccessRTTMin: 100 * time.Microsecond, AccessRTTMax: time.Millisecond,
				UplinkMbps: 50, DownlinkMbps: 300, RateSpread: 0.6, SpeedMin: 5, SpeedMax: 14},
			{Name: "5g-handset", Share: 0.25, AccessRTTMin: time.Millisecond, AccessRTTMax: 4 * time.Millisecond,
				UplinkMbps: 25, DownlinkMbps: 150, RateSpread: 0.7, SpeedMin: 0.5, SpeedMax: 1.8},
			{Name: "6g-fixed", Share: 0.1, AccessRTTMin: 100 * time.Microsecond, AccessRTTMax: 500 * time.Microsecond,
				UplinkMbps: 200, DownlinkMbps: 1000, RateSpread: 0.4},
		},
		Backhaul: EdgeBackhaul{
			Hubs: 6, RouteFactor: 1.5, HopDelay: 20 * time.Microsecond, AggregationHops: 2, CoreHops: 2,
		},
		HandoverMargin: 0.15,
	}
}

// EdgeRural5G is a rural region: 25 macro sites in 40×40 km (about 8 km
// apart), three hubs, long fiber runs, and a mix of 5G handsets, LTE
// handsets (about 10 ms air round trip), 5G vehicles on country roads and
// 5G fixed wireless access. Rates follow the same sources as EdgeUrban6G,
// lowered for large cells; LTE user-plane latency is specified at 5 ms one
// way and measures about 10 ms round trip.
func EdgeRural5G() EdgeConfig {
	return EdgeConfig{
		Name:    "rural-5g",
		AreaKm:  40,
		Sites:   25,
		Devices: 300,
		Classes: []EdgeAccessClass{
			{Name: "5g-handset", Share: 0.45, AccessRTTMin: time.Millisecond, AccessRTTMax: 4 * time.Millisecond,
				UplinkMbps: 20, DownlinkMbps: 100, RateSpread: 0.8, SpeedMin: 0.5, SpeedMax: 1.8},
			{Name: "lte-handset", Share: 0.25, AccessRTTMin: 8 * time.Millisecond, AccessRTTMax: 15 * time.Millisecond,
				UplinkMbps: 5, DownlinkMbps: 25, RateSpread: 0.8, SpeedMin: 0.5, SpeedMax: 1.8},
			{Name: "5g-vehicle", Share: 0.1, AccessRTTMin: time.Millisecond, AccessRTTMax: 4 * time.Millisecond,
				UplinkMbps: 10, DownlinkMbps: 60, RateSpread: 0.8, SpeedMin: 15, SpeedMax: 30},
			{Name: "5g-fwa", Share: 0.2, AccessRTTMin: time.Millisecond, AccessRTTMax: 4 * time.Millisecond,
				UplinkMbps: 30, DownlinkMbps: 200, RateSpread: 0.5},
		},
		Backhaul: EdgeBackhaul{
			Hubs: 3, RouteFactor: 1.8, HopDelay: 20 * time.Microsecond, AggregationHops: 3, CoreHops: 3,
		},
		HandoverMargin: 0.15,
	}
}

// edgePresets is the one place the named presets are listed.
var edgePresets = []func() EdgeConfig{EdgeUrban6G, EdgeRural5G}

// EdgePresetNames lists the names EdgePreset accepts.
func EdgePresetNames() []string {
	names := make([]string, len(edgePresets))
	for i, p := range edgePresets {
		names[i] = p().Name
	}
	return names
}

// EdgePreset returns the preset with the given name.
func EdgePreset(name string) (EdgeConfig, error) {
	for _, p := range edgePresets {
		if c := p(); c.Name == name {
			return c, nil
		}
	}
	return EdgeConfig{}, fmt.Errorf("topology: no edge preset %q; have %s", name, strings.Join(EdgePresetNames(), ", "))
}

// Validate reports the first thing wrong with the configuration.
func (c EdgeConfig) Validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("topology: edge config %q: %s", c.Name, fmt.Sprintf(format, args...))
	}
	b := c.Backhaul
	switch {
	case !finitePositive(c.AreaKm):
		return fail("area side %g km, want a finite value > 0", c.AreaKm)
	case c.Sites < 1 || c.Sites > maxEdgeSites:
		return fail("%d sites, want 1 to %d", c.Sites, maxEdgeSites)
	case c.Devices < 1 || c.Devices > maxEdgeDevices:
		return fail("%d devices, want 1 to %d", c.Devices, maxEdgeDevices)
	case len(c.Classes) == 0:
		return fail("no access classes; every device needs one")
	case b.Hubs < 1 || b.Hubs > c.Sites:
		return fail("backhaul has %d hubs, want 1 to the %d sites (hubs sit at sites)", b.Hubs, c.Sites)
	case !(b.RouteFactor >= 1) || math.IsInf(b.RouteFactor, 0):
		return fail("backhaul route factor %g, want a finite value ≥ 1 (fiber is never shorter than the straight line)", b.RouteFactor)
	case b.HopDelay < 0:
		return fail("backhaul hop delay %v, want ≥ 0", b.HopDelay)
	case b.AggregationHops < 0 || b.CoreHops < 0:
		return fail("backhaul aggregation hops %d and core hops %d, want ≥ 0", b.AggregationHops, b.CoreHops)
	case !(c.HandoverMargin >= 0 && c.HandoverMargin < 1):
		return fail("handover margin %g, want a fraction in [0, 1)", c.HandoverMargin)
	}
	for k, cl := range c.Classes {
		if err := cl.validate(); err != nil {
			return fail("class %d (%q): %v", k, cl.Name, err)
		}
		if first := slices.IndexFunc(c.Classes[:k], func(o EdgeAccessClass) bool { return o.Name == cl.Name }); first >= 0 {
			return fail("classes %d and %d are both named %q", first, k, cl.Name)
		}
	}
	return nil
}

func (cl EdgeAccessClass) validate() error {
	switch {
	case cl.Name == "":
		return fmt.Errorf("no name")
	case !finitePositive(cl.Share):
		return fmt.Errorf("share %g, want a finite value > 0", cl.Share)
	case cl.AccessRTTMin < 0 || cl.AccessRTTMax < cl.AccessRTTMin:
		return fmt.Errorf("access RTT range [%v, %v], want 0 ≤ min ≤ max", cl.AccessRTTMin, cl.AccessRTTMax)
	case !finitePositive(cl.UplinkMbps) || !finitePositive(cl.DownlinkMbps):
		return fmt.Errorf("uplink %g and downlink %g Mbit/s, want finite values > 0", cl.UplinkMbps, cl.DownlinkMbps)
	case cl.UplinkMbps > cl.DownlinkMbps:
		return fmt.Errorf("uplink %g Mbit/s above downlink %g Mbit/s; radio access gives the downlink more", cl.UplinkMbps, cl.DownlinkMbps)
	case !(cl.RateSpread >= 0 && cl.RateSpread <= 3):
		return fmt.Errorf("rate spread %g, want a lognormal σ in [0, 3]", cl.RateSpread)
	case !(cl.SpeedMin >= 0) || cl.SpeedMax < cl.SpeedMin || math.IsInf(cl.SpeedMax, 0):
		return fmt.Errorf("speed range [%g, %g] m/s, want finite 0 ≤ min ≤ max", cl.SpeedMin, cl.SpeedMax)
	case cl.SpeedMax > 0 && cl.SpeedMin == 0:
		// With speeds near 0 allowed, random waypoint's mean speed decays
		// toward 0 over time (Yoon, Liu, Noble 2003).
		return fmt.Errorf("speed range [0, %g] m/s: a moving class needs a minimum speed > 0", cl.SpeedMax)
	}
	return nil
}

func finitePositive(x float64) bool { return x > 0 && !math.IsInf(x, 0) }
