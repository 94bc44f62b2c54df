package topology

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// flatEdge is an edge network whose devices all have the same fixed air
// round trip and never move, so that every difference between two RTTs comes
// from the geometry.
func flatEdge() EdgeConfig {
	c := EdgeUrban6G()
	c.Name = "flat"
	c.Devices = 300
	c.Classes = []EdgeAccessClass{{Name: "fixed", Share: 1, AccessRTTMin: time.Millisecond, AccessRTTMax: time.Millisecond,
		UplinkMbps: 10, DownlinkMbps: 50}}
	return c
}

func mustEdge(t testing.TB, c EdgeConfig, seed uint64) *EdgeNetwork {
	t.Helper()
	en, err := GenerateEdge(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	return en
}

// wiredSeconds returns the one-way wired part of the path between devices i
// and j as the network stands now: the RTT less both air round trips,
// halved, less both radio hops at c.
func wiredSeconds(en *EdgeNetwork) func(i, j int) float64 {
	pos, sites, att := en.DevicePositions(), en.SitePositions(), en.Attachment()
	return func(i, j int) float64 {
		radio := (pos[i].distKm(sites[att[i]]) + pos[j].distKm(sites[att[j]])) / speedOfLightKmPerSec
		return (en.RTT(i, j)-en.AccessRTT(i)-en.AccessRTT(j)).Seconds()/2 - radio
	}
}

func TestGenerateEdgeIsDeterministic(t *testing.T) {
	for _, c := range []EdgeConfig{EdgeUrban6G(), EdgeRural5G()} {
		a, b := mustEdge(t, c, 7), mustEdge(t, c, 7)
		for range 3 {
			if !slices.Equal(a.Matrix().MS, b.Matrix().MS) || !slices.Equal(a.DevicePositions(), b.DevicePositions()) ||
				!slices.Equal(a.Attachment(), b.Attachment()) {
				t.Fatalf("%s: seed 7 twice gave different networks", c.Name)
			}
			for i := range a.Devices() {
				if a.UplinkBitsPerSec(i) != b.UplinkBitsPerSec(i) || a.DownlinkBitsPerSec(i) != b.DownlinkBitsPerSec(i) {
					t.Fatalf("%s: device %d has different rates under one seed", c.Name, i)
				}
			}
			ha, _ := a.Move(time.Minute)
			hb, _ := b.Move(time.Minute)
			if !slices.Equal(ha, hb) {
				t.Fatalf("%s: one seed, different handovers: %v vs %v", c.Name, ha, hb)
			}
		}
		if other := mustEdge(t, c, 8); slices.Equal(mustEdge(t, c, 7).DevicePositions(), other.DevicePositions()) {
			t.Fatalf("%s: seeds 7 and 8 placed the devices identically", c.Name)
		}
	}
}

func TestEdgePresets(t *testing.T) {
	names := EdgePresetNames()
	if len(names) < 2 {
		t.Fatalf("presets %v, want at least urban and rural", names)
	}
	for _, name := range names {
		c, err := EdgePreset(name)
		if err != nil || c.Name != name {
			t.Fatalf("EdgePreset(%q) = %q, %v", name, c.Name, err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("preset %s is invalid: %v", name, err)
		}
	}
	if _, err := EdgePreset("suburban-7g"); err == nil || !strings.Contains(err.Error(), "urban-6g") {
		t.Fatalf("unknown preset: error %v, want one listing the presets", err)
	}
}

func TestEdgeMatrixMatchesRTT(t *testing.T) {
	en := mustEdge(t, EdgeRural5G(), 1)
	m := en.Matrix()
	if m.N != en.Devices() || len(m.MS) != m.N*m.N {
		t.Fatalf("matrix N=%d with %d entries for %d devices", m.N, len(m.MS), en.Devices())
	}
	for i := range m.N {
		for j := range m.N {
			rtt := en.RTT(i, j)
			if got := time.Duration(math.Round(m.At(i, j) * 1e6)); got-rtt > 1 || rtt-got > 1 {
				t.Fatalf("matrix (%d,%d) = %g ms, RTT = %v", i, j, m.At(i, j), rtt)
			}
			if rtt != en.RTT(j, i) {
				t.Fatalf("RTT(%d,%d)=%v but RTT(%d,%d)=%v", i, j, rtt, j, i, en.RTT(j, i))
			}
			if (i == j) != (rtt == 0) {
				t.Fatalf("RTT(%d,%d) = %v", i, j, rtt)
			}
		}
	}
}

// TestEdgeSameSiteIsFasterThanCrossSite: local breakout at the site's MEC
// skips the backhaul, so with equal air links every same-site pair beats
// every cross-site pair.
func TestEdgeSameSiteIsFasterThanCrossSite(t *testing.T) {
	en := mustEdge(t, flatEdge(), 3)
	att := en.Attachment()
	slowestSame, fastestCross := time.Duration(0), time.Duration(math.MaxInt64)
	for i := range en.Devices() {
		for j := i + 1; j < en.Devices(); j++ {
			if rtt := en.RTT(i, j); att[i] == att[j] {
				slowestSame = max(slowestSame, rtt)
			} else {
				fastestCross = min(fastestCross, rtt)
			}
		}
	}
	if slowestSame == 0 || slowestSame >= fastestCross {
		t.Fatalf("slowest same-site RTT %v, fastest cross-site %v; want same-site pairs (some) all faster", slowestSame, fastestCross)
	}

	// The same holds on average within each class of a mixed preset.
	en = mustEdge(t, EdgeUrban6G(), 3)
	att = en.Attachment()
	for k, cl := range en.Config().Classes {
		var same, cross, nSame, nCross float64
		for i := range en.Devices() {
			for j := i + 1; j < en.Devices(); j++ {
				if en.Class(i).Name != cl.Name || en.Class(j).Name != cl.Name {
					continue
				}
				if att[i] == att[j] {
					same, nSame = same+en.RTT(i, j).Seconds(), nSame+1
				} else {
					cross, nCross = cross+en.RTT(i, j).Seconds(), nCross+1
				}
			}
		}
		if nSame > 0 && same/nSame >= cross/nCross {
			t.Errorf("class %d %s: mean same-site RTT %gs ≥ cross-site %gs", k, cl.Name, same/nSame, cross/nCross)
		}
	}
}

// TestEdgeRTTGrowsWithSiteDistance: with a hub at every site the fiber runs
// straight from site to site, so the wired delay is a constant number of
// hops plus route factor × 4.9 µs per km of site distance.
func TestEdgeRTTGrowsWithSiteDistance(t *testing.T) {
	c := flatEdge()
	c.Sites, c.Backhaul.Hubs = 40, 40
	en := mustEdge(t, c, 5)
	sites, att := en.SitePositions(), en.Attachment()
	b := c.Backhaul
	hops := float64(4+2*b.AggregationHops+b.CoreHops) * b.HopDelay.Seconds()
	perKm := b.RouteFactor * 4.9e-6
	wired := wiredSeconds(en)
	type pair struct{ km, wired float64 }
	var pairs []pair
	for j := 1; j < en.Devices(); j++ {
		if att[j] != att[0] {
			pairs = append(pairs, pair{sites[att[0]].distKm(sites[att[j]]), wired(0, j)})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int { return int(math.Copysign(1, a.km-b.km)) })
	for k, p := range pairs {
		if want := hops + p.km*perKm; math.Abs(p.wired-want) > 0.01*want {
			t.Fatalf("sites %.2f km apart: wired one-way %gs, want %gs (hops + %.2f km × %gs/km)", p.km, p.wired, want, p.km, perKm)
		}
		if k > 0 && p.km > pairs[k-1].km+1e-9 && !(p.wired > pairs[k-1].wired) {
			t.Fatalf("%.3f km costs %gs, no more than %.3f km (%gs)", p.km, p.wired, pairs[k-1].km, pairs[k-1].wired)
		}
	}
}

// TestEdgeDelaysArePhysicallyPlausible checks the preset networks against
// physics rather than against the formula: symmetry, the triangle
// inequality, light speed, and fiber never beating the straight line.
func TestEdgeDelaysArePhysicallyPlausible(t *testing.T) {
	for _, c := range []EdgeConfig{EdgeUrban6G(), EdgeRural5G()} {
		en := mustEdge(t, c, 11)
		pos, sites, att := en.DevicePositions(), en.SitePositions(), en.Attachment()
		wired := wiredSeconds(en)
		rng := rand.New(rand.NewPCG(1, 2))
		n := en.Devices()
		for range 20000 {
			i, j, k := rng.IntN(n), rng.IntN(n), rng.IntN(n)
			if en.RTT(i, k) > en.RTT(i, j)+en.RTT(j, k) {
				t.Fatalf("%s: RTT(%d,%d)=%v > RTT(%d,%d)+RTT(%d,%d)=%v", c.Name, i, k, en.RTT(i, k), i, j, j, k, en.RTT(i, j)+en.RTT(j, k))
			}
			if i == j {
				continue
			}
			if light := 2 * pos[i].distKm(pos[j]) / speedOfLightKmPerSec; en.RTT(i, j).Seconds() < light {
				t.Fatalf("%s: devices %d and %d are %.2f km apart but their RTT %v beats light", c.Name, i, j, pos[i].distKm(pos[j]), en.RTT(i, j))
			}
			if fiber := sites[att[i]].distKm(sites[att[j]]) * 4.9e-6; wired(i, j) < fiber {
				t.Fatalf("%s: devices %d and %d: wired one-way %gs is faster than straight fiber %gs", c.Name, i, j, wired(i, j), fiber)
			}
		}
	}
}

func TestEdgeRatesAreHeterogeneousAndAsymmetric(t *testing.T) {
	c := EdgeUrban6G()
	en := mustEdge(t, c, 2)
	count := map[string]int{}
	var handsetUp []float64
	for i := range en.Devices() {
		cl := en.Class(i)
		count[cl.Name]++
		up, down := en.UplinkBitsPerSec(i), en.DownlinkBitsPerSec(i)
		if !(up > 0 && up < down) {
			t.Fatalf("device %d (%s): uplink %g, downlink %g bit/s; want 0 < uplink < downlink", i, cl.Name, up, down)
		}
		if a := en.AccessRTT(i); a < cl.AccessRTTMin || a > cl.AccessRTTMax {
			t.Fatalf("device %d (%s): air RTT %v outside [%v, %v]", i, cl.Name, a, cl.AccessRTTMin, cl.AccessRTTMax)
		}
		if cl.Name == "6g-handset" {
			handsetUp = append(handsetUp, up/1e6)
		}
	}
	for _, cl := range c.Classes {
		if want := int(math.Round(cl.Share * float64(c.Devices))); count[cl.Name] != want {
			t.Errorf("class %s has %d devices, want %d (share %g of %d)", cl.Name, count[cl.Name], want, cl.Share, c.Devices)
		}
	}
	slices.Sort(handsetUp)
	mean := 0.0
	for _, u := range handsetUp {
		mean += u / float64(len(handsetUp))
	}
	// Lognormal factor of mean 1: the class mean is kept; σ=0.6 spreads p90/p10 to about 4.7.
	if math.Abs(mean-c.Classes[0].UplinkMbps) > 0.1*c.Classes[0].UplinkMbps {
		t.Errorf("6g handsets: mean uplink %.1f Mbit/s, want about %g", mean, c.Classes[0].UplinkMbps)
	}
	if spread := nearestRank(handsetUp, 0.9) / nearestRank(handsetUp, 0.1); spread < 3 || spread > 7 {
		t.Errorf("6g handsets: uplink p90/p10 = %.2f, want about 4.7", spread)
	}

	flat := mustEdge(t, flatEdge(), 2)
	for i := range flat.Devices() {
		if flat.UplinkBitsPerSec(i) != 10e6 || flat.DownlinkBitsPerSec(i) != 50e6 {
			t.Fatalf("rate spread 0: device %d has %g/%g bit/s, want exactly 10e6/50e6", i, flat.UplinkBitsPerSec(i), flat.DownlinkBitsPerSec(i))
		}
	}
}

func TestEdgeMoveKeepsStaticDevicesAndReattachesMobileOnes(t *testing.T) {
	c := EdgeUrban6G()
	c.Devices = 400
	en := mustEdge(t, c, 4)
	sites := en.SitePositions()
	before, attBefore, mBefore := en.DevicePositions(), en.Attachment(), en.Matrix()
	step := 30 * time.Second
	var all []EdgeHandover
	for range 20 {
		prevPos, prevAtt := en.DevicePositions(), en.Attachment()
		hs, err := en.Move(step)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, hs...)
		pos, att := en.DevicePositions(), en.Attachment()
		for k, h := range hs {
			if k > 0 && h.Device <= hs[k-1].Device {
				t.Fatalf("handovers not in device order: %v", hs)
			}
			if h.From != prevAtt[h.Device] || h.To != att[h.Device] || h.From == h.To {
				t.Fatalf("handover %+v, but the device went from site %d to %d", h, prevAtt[h.Device], att[h.Device])
			}
			p := pos[h.Device]
			if !(p.distKm(sites[h.To]) < p.distKm(sites[h.From])*(1-c.HandoverMargin)) {
				t.Fatalf("handover %+v without the %g margin: %.3f km to the new site, %.3f km to the old", h, c.HandoverMargin,
					p.distKm(sites[h.To]), p.distKm(sites[h.From]))
			}
		}
		for i := range pos {
			cl := en.Class(i)
			moved := prevPos[i].distKm(pos[i]) * 1000
			if moved > cl.SpeedMax*step.Seconds()+1e-6 {
				t.Fatalf("device %d (%s) moved %.1f m in %v, faster than %g m/s", i, cl.Name, moved, step, cl.SpeedMax)
			}
			if p := pos[i]; p.X < 0 || p.Y < 0 || p.X > c.AreaKm || p.Y > c.AreaKm {
				t.Fatalf("device %d left the area: %+v", i, p)
			}
			if !slices.ContainsFunc(hs, func(h EdgeHandover) bool { return h.Device == i }) && att[i] != prevAtt[i] {
				t.Fatalf("device %d changed site %d→%d without a reported handover", i, prevAtt[i], att[i])
			}
		}
	}
	if en.Elapsed() != 20*step {
		t.Fatalf("elapsed %v, want %v", en.Elapsed(), 20*step)
	}
	after, mAfter := en.DevicePositions(), en.Matrix()
	moving, handedOver := 0, map[int]bool{}
	for _, h := range all {
		handedOver[h.Device] = true
	}
	for i := range after {
		if en.Class(i).SpeedMax == 0 {
			if after[i] != before[i] || en.Attachment()[i] != attBefore[i] || handedOver[i] {
				t.Fatalf("static device %d moved or changed site", i)
			}
			continue
		}
		if after[i] != before[i] {
			moving++
		}
	}
	if moving == 0 || len(handedOver) < 20 {
		t.Fatalf("10 minutes of mobility: %d devices moved, %d re-attached; want movement and handovers", moving, len(handedOver))
	}
	// Pairs of static devices keep their delay exactly; handed-over devices' rows change.
	changed := 0
	for i := range after {
		for j := range after {
			same := mAfter.At(i, j) == mBefore.At(i, j)
			if en.Class(i).SpeedMax == 0 && en.Class(j).SpeedMax == 0 && !same {
				t.Fatalf("static devices %d and %d: RTT %g → %g ms", i, j, mBefore.At(i, j), mAfter.At(i, j))
			}
			if handedOver[i] && !same {
				changed++
			}
		}
	}
	if changed == 0 {
		t.Fatal("handovers left the latency matrix unchanged")
	}
}

func TestEdgeMoveDoesNotDependOnStepSize(t *testing.T) {
	a, b := mustEdge(t, EdgeRural5G(), 9), mustEdge(t, EdgeRural5G(), 9)
	if _, err := a.Move(10 * time.Minute); err != nil {
		t.Fatal(err)
	}
	for range 600 {
		if _, err := b.Move(time.Second); err != nil {
			t.Fatal(err)
		}
	}
	pa, pb := a.DevicePositions(), b.DevicePositions()
	for i := range pa {
		if d := pa[i].distKm(pb[i]); d > 1e-9 {
			t.Fatalf("device %d is %g km apart after one 10-minute step and 600 1-second steps", i, d)
		}
	}
}

// TestEdgeHandoverMarginSuppressesPingPong: without hysteresis every device
// is always on its nearest site; a margin trades that for fewer handovers.
func TestEdgeHandoverMarginSuppressesPingPong(t *testing.T) {
	count := func(margin float64) int {
		c := EdgeUrban6G()
		c.Devices, c.HandoverMargin = 300, margin
		en := mustEdge(t, c, 6)
		n := 0
		for range 60 {
			hs, _ := en.Move(5 * time.Second)
			n += len(hs)
			if margin == 0 {
				for i, p := range en.DevicePositions() {
					if s := en.Attachment()[i]; s != en.nearestSite(p) {
						t.Fatalf("margin 0: device %d on site %d, nearest is %d", i, s, en.nearestSite(p))
					}
				}
			}
		}
		return n
	}
	none, some := count(0), count(0.3)
	if !(some < none) {
		t.Fatalf("handovers: %d with margin 0.3, %d without; want fewer with a margin", some, none)
	}
}

func TestEdgeMoveRejectsNegativeTime(t *testing.T) {
	en := mustEdge(t, EdgeRural5G(), 1)
	if _, err := en.Move(-time.Second); err == nil || !strings.Contains(err.Error(), "-1s") {
		t.Fatalf("Move(-1s): error %v, want one naming -1s", err)
	}
	if en.Elapsed() != 0 {
		t.Fatalf("a refused move advanced the clock to %v", en.Elapsed())
	}
}

func TestEdgeConfigRejectsBadValues(t *testing.T) {
	cases := []struct {
		edit func(*EdgeConfig)
		want string
	}{
		{func(c *EdgeConfig) { c.AreaKm = 0 }, "area"},
		{func(c *EdgeConfig) { c.AreaKm = math.Inf(1) }, "area"},
		{func(c *EdgeConfig) { c.Sites = 0 }, "0 sites"},
		{func(c *EdgeConfig) { c.Devices = -3 }, "-3 devices"},
		{func(c *EdgeConfig) { c.Devices = 1 << 30 }, "devices"},
		{func(c *EdgeConfig) { c.Classes = nil }, "no access classes"},
		{func(c *EdgeConfig) { c.Backhaul.Hubs = 0 }, "0 hubs"},
		{func(c *EdgeConfig) { c.Backhaul.Hubs = c.Sites + 1 }, "hubs"},
		{func(c *EdgeConfig) { c.Backhaul.RouteFactor = 0.9 }, "route factor 0.9"},
		{func(c *EdgeConfig) { c.Backhaul.RouteFactor = math.NaN() }, "route factor"},
		{func(c *EdgeConfig) { c.Backhaul.HopDelay = -time.Microsecond }, "hop delay"},
		{func(c *EdgeConfig) { c.Backhaul.CoreHops = -1 }, "core hops -1"},
		{func(c *EdgeConfig) { c.HandoverMargin = 1 }, "handover margin 1"},
		{func(c *EdgeConfig) { c.Classes[1].Name = "" }, `class 1 ("")`},
		{func(c *EdgeConfig) { c.Classes[2].Name = c.Classes[0].Name }, "classes 0 and 2"},
		{func(c *EdgeConfig) { c.Classes[0].Share = 0 }, "share 0"},
		{func(c *EdgeConfig) { c.Classes[0].AccessRTTMax = 0 }, "access RTT range"},
		{func(c *EdgeConfig) { c.Classes[0].UplinkMbps = 0 }, "uplink 0"},
		{func(c *EdgeConfig) { c.Classes[3].UplinkMbps = 2000 }, `class 3 ("6g-fixed"): uplink 2000 Mbit/s above downlink`},
		{func(c *EdgeConfig) { c.Classes[0].RateSpread = -1 }, "rate spread"},
		{func(c *EdgeConfig) { c.Classes[0].SpeedMax = 0.1 }, "speed range"},
		{func(c *EdgeConfig) { c.Classes[0].SpeedMin = 0 }, "minimum speed"},
	}
	for _, tc := range cases {
		c := EdgeUrban6G()
		c.Classes = slices.Clone(c.Classes)
		tc.edit(&c)
		_, err := GenerateEdge(c, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"urban-6g"`) {
			t.Errorf("error %v, want one naming the config and mentioning %q", err, tc.want)
		}
	}
}

func TestEdgeSummary(t *testing.T) {
	c := flatEdge()
	c.Devices = 200
	en := mustEdge(t, c, 8)
	s := en.Summary()
	if s.Devices != 200 || s.Sites != c.Sites || s.Hubs != c.Backhaul.Hubs || s.Pairs != 200*199/2 || s.PairsSampled != s.Pairs {
		t.Fatalf("summary sizes wrong: %+v", s)
	}
	var rtts []float64
	same, inUse := 0, map[int]bool{}
	att := en.Attachment()
	for i := range 200 {
		inUse[att[i]] = true
		for j := i + 1; j < 200; j++ {
			rtts = append(rtts, en.RTT(i, j).Seconds())
			if att[i] == att[j] {
				same++
			}
		}
	}
	slices.Sort(rtts)
	// Nearest rank of the median of 19900 pairs is the 9950th smallest.
	if want := edgeDuration(rtts[9949]); s.RTTP50 != want || s.RTTMin != edgeDuration(rtts[0]) || s.RTTMax != edgeDuration(rtts[len(rtts)-1]) {
		t.Fatalf("RTT min/p50/max %v/%v/%v, want %v/%v/%v", s.RTTMin, s.RTTP50, s.RTTMax, edgeDuration(rtts[0]), want, edgeDuration(rtts[len(rtts)-1]))
	}
	if !(s.RTTP50 <= s.RTTP90 && s.RTTP90 <= s.RTTP99 && s.RTTP99 <= s.RTTMax) {
		t.Fatalf("percentiles out of order: %+v", s)
	}
	if s.SitesInUse != len(inUse) || s.SameSitePairs != float64(same)/float64(s.Pairs) {
		t.Fatalf("sites in use %d, same-site share %g; want %d, %g", s.SitesInUse, s.SameSitePairs, len(inUse), float64(same)/float64(s.Pairs))
	}
	if cs := s.Classes[0]; cs.Devices != 200 || cs.MedianAccessRTT != time.Millisecond || cs.MedianUplinkMbps != 10 || cs.MedianDownlinkMbps != 50 {
		t.Fatalf("class summary %+v", cs)
	}
	if text := s.String(); !strings.Contains(text, `"flat"`) || !strings.Contains(text, "p99") {
		t.Fatalf("summary text lacks the name or percentiles:\n%s", text)
	}
}

// BenchmarkGenerateEdge measures generating a network and building its
// N×N latency matrix, the two things a simulation start pays for, and one
// mobility step.
func BenchmarkGenerateEdge(b *testing.B) {
	for _, devices := range []int{1000, 5000} {
		c := EdgeUrban6G()
		c.Devices = devices
		b.Run("generate/devices="+strconv.Itoa(devices), func(b *testing.B) {
			for b.Loop() {
				mustEdge(b, c, 1)
			}
		})
		b.Run("matrix/devices="+strconv.Itoa(devices), func(b *testing.B) {
			en := mustEdge(b, c, 1)
			for b.Loop() {
				en.Matrix()
			}
		})
		b.Run("move/devices="+strconv.Itoa(devices), func(b *testing.B) {
			en := mustEdge(b, c, 1)
			for b.Loop() {
				if _, err := en.Move(time.Second); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
