package topology

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func newVivaldi(t *testing.T, seed uint64) *Vivaldi {
	t.Helper()
	cfg := DefaultVivaldiConfig()
	cfg.Seed = seed
	v, err := NewVivaldi(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// peerAt returns a settled coordinate ms milliseconds along the first axis.
func peerAt(ms float64) Coord {
	c := Coord{Vec: make([]float64, CoordDimensions), Error: 0.1, Height: 1e-5}
	c.Vec[0] = ms / 1000
	return c
}

func TestVivaldiStartsAtTheOrigin(t *testing.T) {
	v := newVivaldi(t, 1)
	c := v.Coord()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for i, x := range c.Vec {
		if x != 0 {
			t.Fatalf("new coordinate component %d = %v, want 0", i, x)
		}
	}
	if c.Error != DefaultVivaldiConfig().ErrorMax {
		t.Errorf("new coordinate error = %v, want ErrorMax %v", c.Error, DefaultVivaldiConfig().ErrorMax)
	}
}

// TestVivaldiConvergesToOnePeer: a peer that keeps measuring 50 ms to a
// fixed peer ends up 50 ms from it.
func TestVivaldiConvergesToOnePeer(t *testing.T) {
	v := newVivaldi(t, 1)
	other := peerAt(0)
	for range 200 {
		if _, err := v.Update("a", other, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if got := v.Estimate(other); (got - 50*time.Millisecond).Abs() > 500*time.Microsecond {
		t.Errorf("estimate after 200 samples of 50 ms = %v", got)
	}
	if e := v.Coord().Error; e > 0.05 {
		t.Errorf("error after 200 consistent samples = %v, want it to fall below 0.05", e)
	}
}

// TestVivaldiIsReproducible: every new coordinate sits at the origin, so the
// first update finds two coincident points; the direction taken must come
// from the seed, not from a process-wide random source.
func TestVivaldiIsReproducible(t *testing.T) {
	run := func(seed uint64) Coord {
		v := newVivaldi(t, seed)
		origin := Coord{Vec: make([]float64, CoordDimensions), Error: 1.5, Height: 1e-5}
		c, err := v.Update("a", origin, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first, again, other := run(7), run(7), run(8)
	if !sameCoord(first, again) {
		t.Errorf("same seed, different coordinates:\n%v\n%v", first.Vec, again.Vec)
	}
	if sameCoord(first, other) {
		t.Errorf("seeds 7 and 8 moved in the same direction: %v", first.Vec)
	}
	if d := first.DistanceTo(Coord{Vec: make([]float64, CoordDimensions)}); d < 500*time.Microsecond {
		t.Errorf("first update moved only %v off the origin, want a move towards 20 ms", d)
	}
}

// TestVivaldiUpdateRejectsBadInputWithoutChangingState feeds one client the
// same good samples as a twin, plus bad ones in between: every bad one must
// fail, and the two clients must end identical (coordinate and latency
// filter alike).
func TestVivaldiUpdateRejectsBadInputWithoutChangingState(t *testing.T) {
	clean, probed := newVivaldi(t, 5), newVivaldi(t, 5)
	good := []struct {
		peer string
		at   float64
		rtt  time.Duration
	}{
		{"a", 10, 12 * time.Millisecond}, {"b", 30, 25 * time.Millisecond}, {"a", 10, 11 * time.Millisecond},
		{"c", 60, 70 * time.Millisecond}, {"a", 10, 13 * time.Millisecond}, {"b", 30, 24 * time.Millisecond},
	}
	poisoned := peerAt(10)
	poisoned.Height = -0.5
	wrongShape := peerAt(10)
	wrongShape.Vec = wrongShape.Vec[:2]
	bad := []struct {
		name  string
		peer  string
		coord Coord
		rtt   time.Duration
		want  string
	}{
		{"empty peer ID", "", peerAt(10), 10 * time.Millisecond, "empty"},
		{"negative height", "a", poisoned, 10 * time.Millisecond, `peer "a": topology: coordinate height`},
		{"wrong dimension", "a", wrongShape, 10 * time.Millisecond, "2 components, want 8"},
		{"zero RTT", "a", peerAt(10), 0, "RTT 0s is not in (0, 10s]"},
		{"negative RTT", "a", peerAt(10), -time.Millisecond, "RTT -1ms"},
		{"RTT beyond 10 s", "a", peerAt(10), 11 * time.Second, "RTT 11s"},
	}
	for i, g := range good {
		want, err := clean.Update(g.peer, peerAt(g.at), g.rtt)
		if err != nil {
			t.Fatal(err)
		}
		before := probed.Coord()
		for _, b := range bad {
			if _, err := probed.Update(b.peer, b.coord, b.rtt); err == nil || !strings.Contains(err.Error(), b.want) {
				t.Fatalf("%s: Update error %v, want one containing %q", b.name, err, b.want)
			}
			if after := probed.Coord(); !sameCoord(after, before) {
				t.Fatalf("%s: rejected update changed the coordinate from %v to %v", b.name, before, after)
			}
		}
		got, err := probed.Update(g.peer, peerAt(g.at), g.rtt)
		if err != nil {
			t.Fatal(err)
		}
		if !sameCoord(got, want) {
			t.Fatalf("after good sample %d the clients differ:\nclean  %+v\nprobed %+v", i, want, got)
		}
	}
}

// TestVivaldiForgetDropsTheLatencyFilter: after two 10 ms samples the
// median filter would turn a 100 ms sample into 10 ms; after Forget the
// 100 ms sample counts in full, exactly as for a never-seen peer.
func TestVivaldiForgetDropsTheLatencyFilter(t *testing.T) {
	other := peerAt(0)
	history := func(v *Vivaldi) {
		for range 2 {
			if _, err := v.Update("a", other, 10*time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
	}
	forgot, kept, fresh := newVivaldi(t, 2), newVivaldi(t, 2), newVivaldi(t, 2)
	history(forgot)
	history(kept)
	history(fresh)
	forgot.Forget("a")
	afterForget, _ := forgot.Update("a", other, 100*time.Millisecond)
	afterKeep, _ := kept.Update("a", other, 100*time.Millisecond)
	newPeer, _ := fresh.Update("b", other, 100*time.Millisecond)
	if !sameCoord(afterForget, newPeer) {
		t.Errorf("after Forget the sample was filtered: %v, want %v", afterForget.Vec, newPeer.Vec)
	}
	if sameCoord(afterForget, afterKeep) {
		t.Error("Forget made no difference: the filter still held the old samples")
	}
	forgot.Forget("never-seen") // must not panic
}

func TestVivaldiEstimate(t *testing.T) {
	v := newVivaldi(t, 1)
	for range 50 {
		if _, err := v.Update("a", peerAt(0), 40*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	target := peerAt(25)
	if got, want := v.Estimate(target), v.Coord().DistanceTo(target); got != want {
		t.Errorf("Estimate = %v, want Coord().DistanceTo = %v", got, want)
	}
	broken := peerAt(25)
	broken.Vec[3] = 1e9
	if got := v.Estimate(broken); got != UnknownDistance {
		t.Errorf("Estimate of an invalid coordinate = %v, want UnknownDistance", got)
	}
}

func TestVivaldiConfigValidate(t *testing.T) {
	cases := []struct {
		change func(*VivaldiConfig)
		want   string
	}{
		{func(c *VivaldiConfig) { c.ErrorMax = 0 }, "ErrorMax is 0"},
		{func(c *VivaldiConfig) { c.CE = 1.5 }, "CE is 1.5"},
		{func(c *VivaldiConfig) { c.CC = 0 }, "CC is 0"},
		{func(c *VivaldiConfig) { c.AdjustmentWindow = -1 }, "AdjustmentWindow is -1"},
		{func(c *VivaldiConfig) { c.HeightMin = -time.Millisecond }, "HeightMin is -1ms"},
		{func(c *VivaldiConfig) { c.LatencyFilterSize = 0 }, "LatencyFilterSize is 0"},
		{func(c *VivaldiConfig) { c.GravityRho = 0 }, "GravityRho is 0s"},
	}
	for _, c := range cases {
		cfg := DefaultVivaldiConfig()
		c.change(&cfg)
		if _, err := NewVivaldi(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewVivaldi error %v, want one containing %q", err, c.want)
		}
	}
	for name, cfg := range map[string]VivaldiConfig{"default": DefaultVivaldiConfig(), "serf": SerfVivaldiConfig()} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s preset: %v", name, err)
		}
	}
}

// TestVivaldiConcurrentUse exercises the documented concurrency guarantee;
// it proves most under -race.
func TestVivaldiConcurrentUse(t *testing.T) {
	v := newVivaldi(t, 1)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			peer := string(rune('a' + g))
			for i := range 100 {
				if _, err := v.Update(peer, peerAt(float64(10*g)), time.Duration(5+i%7)*time.Millisecond); err != nil {
					t.Error(err)
					return
				}
				v.Estimate(peerAt(1))
				v.Coord()
				if i%10 == 0 {
					v.Forget(peer)
				}
			}
		})
	}
	wg.Wait()
	if err := v.Coord().Validate(); err != nil {
		t.Fatal(err)
	}
}
