package topology

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/serf/coordinate"
)

// validCoord returns an honest-looking coordinate: 1 ms along each axis.
func validCoord() Coord {
	vec := make([]float64, CoordDimensions)
	for i := range vec {
		vec[i] = 0.001
	}
	return Coord{Vec: vec, Error: 0.4, Adjustment: -0.002, Height: 0.003}
}

func TestCoordValidateAcceptsHonestCoordinates(t *testing.T) {
	for name, c := range map[string]Coord{
		"typical":             validCoord(),
		"origin, zero error":  {Vec: make([]float64, CoordDimensions)},
		"at the limit":        {Vec: append([]float64{10}, make([]float64, CoordDimensions-1)...), Height: 10, Adjustment: -10},
		"huge error is legal": {Vec: make([]float64, CoordDimensions), Error: 1e12},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCoordValidateRejectsPoison(t *testing.T) {
	with := func(change func(*Coord)) Coord {
		c := validCoord()
		change(&c)
		return c
	}
	cases := []struct {
		name  string
		coord Coord
		want  string
	}{
		{"no vector", with(func(c *Coord) { c.Vec = nil }), "0 components, want 8"},
		{"too few", with(func(c *Coord) { c.Vec = c.Vec[:3] }), "3 components, want 8"},
		{"too many", with(func(c *Coord) { c.Vec = append(c.Vec, 0) }), "9 components, want 8"},
		{"NaN component", with(func(c *Coord) { c.Vec[2] = math.NaN() }), "component 2 is NaN"},
		{"infinite component", with(func(c *Coord) { c.Vec[7] = math.Inf(-1) }), "component 7 is -Inf"},
		{"component beyond 10 s", with(func(c *Coord) { c.Vec[1] = 10.5 }), "component 1 is 10.5s, beyond the limit of 10s"},
		{"vector longer than 10 s", with(func(c *Coord) {
			for i := range c.Vec {
				c.Vec[i] = 4
			}
		}), "vector has length 11.3"},
		{"NaN height", with(func(c *Coord) { c.Height = math.NaN() }), "height is NaN"},
		{"negative height", with(func(c *Coord) { c.Height = -0.001 }), "height is -0.001s, must not be negative"},
		{"height beyond 10 s", with(func(c *Coord) { c.Height = 11 }), "height is 11s, beyond"},
		{"infinite adjustment", with(func(c *Coord) { c.Adjustment = math.Inf(1) }), "adjustment is +Inf"},
		{"adjustment beyond -10 s", with(func(c *Coord) { c.Adjustment = -12 }), "adjustment is -12s, beyond"},
		{"NaN error", with(func(c *Coord) { c.Error = math.NaN() }), "error is NaN"},
		{"negative error", with(func(c *Coord) { c.Error = -1 }), "error is -1, must not be negative"},
	}
	for _, c := range cases {
		err := c.coord.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate() = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// TestCoordDistanceMatchesSerf checks DistanceTo against serf's own
// formula, including pairs whose adjustments would make the estimate
// negative (serf then ignores them).
func TestCoordDistanceMatchesSerf(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		a, b := randomCoord(rng), randomCoord(rng)
		if trial%4 == 0 {
			a.Adjustment, b.Adjustment = -1, -1
		}
		got := a.DistanceTo(b)
		want := a.toSerf().DistanceTo(b.toSerf())
		if got != want {
			t.Fatalf("trial %d: DistanceTo = %v, serf says %v", trial, got, want)
		}
		if back := b.DistanceTo(a); back != got {
			t.Fatalf("trial %d: distance not symmetric: %v and %v", trial, got, back)
		}
	}
}

func randomCoord(rng *rand.Rand) Coord {
	c := Coord{Vec: make([]float64, CoordDimensions), Error: rng.Float64(), Height: rng.Float64() * 0.01,
		Adjustment: (rng.Float64() - 0.5) * 0.01}
	for i := range c.Vec {
		c.Vec[i] = (rng.Float64() - 0.5) * 0.2
	}
	return c
}

func TestCoordDistanceToInvalidIsUnknown(t *testing.T) {
	bad := validCoord()
	bad.Height = -1
	good := validCoord()
	if d := good.DistanceTo(bad); d != UnknownDistance {
		t.Errorf("distance to an invalid coordinate = %v, want UnknownDistance", d)
	}
	if d := bad.DistanceTo(good); d != UnknownDistance {
		t.Errorf("distance from an invalid coordinate = %v, want UnknownDistance", d)
	}
	short := Coord{Vec: []float64{1}}
	if d := good.DistanceTo(short); d != UnknownDistance {
		t.Errorf("distance to a 1-component coordinate = %v, want UnknownDistance (and no panic)", d)
	}
}

func TestCoordDistanceOfKnownPoints(t *testing.T) {
	a := Coord{Vec: make([]float64, CoordDimensions), Height: 0.002}
	b := Coord{Vec: make([]float64, CoordDimensions), Height: 0.001, Adjustment: 0.0005}
	a.Vec[0], a.Vec[1] = 0.003, 0.004 // 5 ms from the origin
	want := 5*time.Millisecond + 3*time.Millisecond + 500*time.Microsecond
	if got := a.DistanceTo(b); (got - want).Abs() > time.Nanosecond {
		t.Errorf("DistanceTo = %v, want %v", got, want)
	}
}

func TestCoordSerfConversionCopies(t *testing.T) {
	c := validCoord()
	s := c.toSerf()
	s.Vec[0] = 99
	if c.Vec[0] != 0.001 {
		t.Fatalf("toSerf shares the vector: Vec[0] became %v", c.Vec[0])
	}
	back := coordFromSerf(&coordinate.Coordinate{Vec: []float64{1, 2, 3, 4, 5, 6, 7, 8}, Error: 0.5, Adjustment: -0.1, Height: 0.2})
	want := Coord{Vec: []float64{1, 2, 3, 4, 5, 6, 7, 8}, Error: 0.5, Adjustment: -0.1, Height: 0.2}
	if !sameCoord(back, want) {
		t.Errorf("coordFromSerf = %+v, want %+v", back, want)
	}
	if round := coordFromSerf(validCoord().toSerf()); !sameCoord(round, validCoord()) {
		t.Errorf("round trip changed the coordinate: %+v", round)
	}
	clone := c.Clone()
	clone.Vec[1] = 42
	if c.Vec[1] == 42 {
		t.Error("Clone shares the vector")
	}
}

func sameCoord(a, b Coord) bool {
	if len(a.Vec) != len(b.Vec) || a.Error != b.Error || a.Adjustment != b.Adjustment || a.Height != b.Height {
		return false
	}
	for i := range a.Vec {
		if a.Vec[i] != b.Vec[i] {
			return false
		}
	}
	return true
}
