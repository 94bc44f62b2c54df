package topology

import (
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/serf/coordinate"
)

// CoordDimensions is the number of Euclidean components of every Coord.
// Eight plus a height is what Ledlie et al. (NSDI 2007) found accurate on
// Internet RTTs and what serf uses; it is fixed because peers exchange
// coordinates and must agree on their shape.
const CoordDimensions = 8

// MaxCoordMagnitude bounds every distance-like part of a coordinate a peer
// accepts: the length of Vec, Height and |Adjustment|. Ten seconds is far
// beyond any round trip on Earth, so only a broken or hostile peer exceeds
// it; it matches the largest RTT sample Vivaldi.Update takes.
const MaxCoordMagnitude = 10 * time.Second

// UnknownDistance is what DistanceTo and Vivaldi.Estimate return when a
// coordinate fails Validate: the largest Duration, so that ranking peers by
// estimated RTT puts peers with unusable coordinates last.
const UnknownDistance = time.Duration(math.MaxInt64)

// Coord is a peer's network coordinate: a point in CoordDimensions-space
// plus a height (the peer's access link), such that the distance between
// two coordinates estimates the RTT between the peers. All distance-like
// fields are in seconds, as float64 to keep sub-nanosecond updates.
//
// A Coord received from another peer is untrusted: call Validate before
// using it (Vivaldi.Update does).
type Coord struct {
	// Vec is the Euclidean part, CoordDimensions components, in seconds.
	Vec []float64 `json:"vec"`
	// Error is the peer's own confidence in its coordinate: 0 is certain,
	// larger is less sure (VivaldiConfig.ErrorMax when new). Dimensionless.
	Error float64 `json:"error"`
	// Adjustment is a per-peer offset added to every distance, in seconds;
	// it may be negative. It corrects for a peer whose RTTs the Euclidean
	// part systematically over- or underestimates.
	Adjustment float64 `json:"adjustment"`
	// Height is the non-Euclidean part, in seconds: the RTT of the peer's
	// access link, added to every distance. Never negative.
	Height float64 `json:"height"`
}

// Validate reports whether c is a coordinate an honest peer could hold. It
// rejects what a broken or hostile peer could send to poison the
// coordinates of peers that learn from it: the wrong number of components,
// NaN or infinite values, a negative height or error, and distances beyond
// MaxCoordMagnitude.
func (c Coord) Validate() error {
	limit := MaxCoordMagnitude.Seconds()
	if len(c.Vec) != CoordDimensions {
		return fmt.Errorf("topology: coordinate has %d components, want %d", len(c.Vec), CoordDimensions)
	}
	sumSquares := 0.0
	for i, x := range c.Vec {
		if !isFinite(x) {
			return fmt.Errorf("topology: coordinate component %d is %v, want a finite number of seconds", i, x)
		}
		if math.Abs(x) > limit {
			return fmt.Errorf("topology: coordinate component %d is %gs, beyond the limit of %v", i, x, MaxCoordMagnitude)
		}
		sumSquares += x * x
	}
	if length := math.Sqrt(sumSquares); length > limit {
		return fmt.Errorf("topology: coordinate vector has length %gs, beyond the limit of %v", length, MaxCoordMagnitude)
	}
	switch {
	case !isFinite(c.Height):
		return fmt.Errorf("topology: coordinate height is %v, want a finite number of seconds", c.Height)
	case c.Height < 0:
		return fmt.Errorf("topology: coordinate height is %gs, must not be negative", c.Height)
	case c.Height > limit:
		return fmt.Errorf("topology: coordinate height is %gs, beyond the limit of %v", c.Height, MaxCoordMagnitude)
	case !isFinite(c.Adjustment):
		return fmt.Errorf("topology: coordinate adjustment is %v, want a finite number of seconds", c.Adjustment)
	case math.Abs(c.Adjustment) > limit:
		return fmt.Errorf("topology: coordinate adjustment is %gs, beyond the limit of ±%v", c.Adjustment, MaxCoordMagnitude)
	case !isFinite(c.Error):
		return fmt.Errorf("topology: coordinate error is %v, want a finite number", c.Error)
	case c.Error < 0:
		// A negative error would let the sender claim more than full
		// confidence and move the receiver further than Vivaldi allows.
		// A huge error is harmless: the receiver gives it little weight.
		return fmt.Errorf("topology: coordinate error is %g, must not be negative", c.Error)
	}
	return nil
}

// DistanceTo returns the RTT that the coordinates c and other predict
// between their peers: the Euclidean distance plus both heights, plus both
// adjustments unless that would make the estimate non-positive (serf's
// rule). It returns UnknownDistance if either coordinate fails Validate.
func (c Coord) DistanceTo(other Coord) time.Duration {
	if c.Validate() != nil || other.Validate() != nil {
		return UnknownDistance
	}
	return time.Duration(distanceSeconds(c, other) * float64(time.Second))
}

// distanceSeconds is DistanceTo in seconds for coordinates already known
// to be valid.
func distanceSeconds(c, other Coord) float64 {
	sumSquares := 0.0
	for i := range c.Vec {
		d := c.Vec[i] - other.Vec[i]
		sumSquares += d * d
	}
	seconds := math.Sqrt(sumSquares) + c.Height + other.Height
	if adjusted := seconds + c.Adjustment + other.Adjustment; adjusted > 0 {
		seconds = adjusted
	}
	return seconds
}

// Clone returns a copy of c that shares no memory with it.
func (c Coord) Clone() Coord {
	c.Vec = append([]float64(nil), c.Vec...)
	return c
}

// toSerf converts c to serf's representation (same units: seconds).
func (c Coord) toSerf() *coordinate.Coordinate {
	return &coordinate.Coordinate{
		Vec:        append([]float64(nil), c.Vec...),
		Error:      c.Error,
		Adjustment: c.Adjustment,
		Height:     c.Height,
	}
}

// coordFromSerf converts serf's representation to a Coord.
func coordFromSerf(s *coordinate.Coordinate) Coord {
	return Coord{
		Vec:        append([]float64(nil), s.Vec...),
		Error:      s.Error,
		Adjustment: s.Adjustment,
		Height:     s.Height,
	}
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
