package topology

import (
	"fmt"
	"slices"
	"time"
)

// Settings of RTTFilter, in one place.
const (
	// RTTFilterWindow is how many recent samples the filter takes the median
	// of. Five outvotes two spikes in a row (a retransmission, a GC pause on
	// either side) while following a real change after three samples.
	RTTFilterWindow = 5
	// RTTFilterGain is the EWMA weight of each new median: the estimate
	// moves a quarter of the way to it, so it follows a lasting change within
	// a handful of samples but not the jitter between them.
	RTTFilterGain = 0.25
	// MaxRTTSample is the largest round-trip time the filter accepts. Nothing
	// on Earth is further than a few hundred milliseconds; a sample of
	// seconds is a stalled probe, not a distance.
	MaxRTTSample = 10 * time.Second
)

// RTTFilter turns one peer's raw round-trip-time samples into a steady
// estimate robust to outliers: the median of the last RTTFilterWindow
// samples, smoothed by an exponentially weighted moving average. It is pure
// logic (no clock: one call of Add is one sample, whenever it was taken).
//
// The zero value is an empty filter ready to use. It is not safe for
// concurrent use.
type RTTFilter struct {
	recent   [RTTFilterWindow]time.Duration // ring of the latest samples
	held     int                            // samples in recent, ≤ RTTFilterWindow
	next     int                            // slot the next sample overwrites
	smoothed float64                        // estimate, in nanoseconds
	last     time.Duration
	count    int
}

// Add takes one sample and returns the new smoothed estimate. A sample that
// is not in (0, MaxRTTSample] is refused with an error and leaves the filter
// unchanged.
func (f *RTTFilter) Add(rtt time.Duration) (time.Duration, error) {
	if rtt <= 0 || rtt > MaxRTTSample {
		return f.Smoothed(), fmt.Errorf("topology: RTT sample %v, want a duration in (0, %v]", rtt, MaxRTTSample)
	}
	f.recent[f.next] = rtt
	f.next = (f.next + 1) % RTTFilterWindow
	f.held = min(f.held+1, RTTFilterWindow)
	f.last = rtt
	f.count++
	median := f.median()
	if f.count == 1 {
		f.smoothed = float64(median)
	} else {
		f.smoothed += RTTFilterGain * (float64(median) - f.smoothed)
	}
	return f.Smoothed(), nil
}

// median of the held samples; the lower middle one of an even count, so
// that the result is always a sample that was really measured.
func (f *RTTFilter) median() time.Duration {
	held := slices.Clone(f.recent[:f.held])
	slices.Sort(held)
	return held[(len(held)-1)/2]
}

// Smoothed is the filtered estimate, 0 before the first sample.
func (f *RTTFilter) Smoothed() time.Duration { return time.Duration(f.smoothed + 0.5) }

// Last is the latest accepted sample, 0 before the first.
func (f *RTTFilter) Last() time.Duration { return f.last }

// Samples is how many samples the filter has accepted.
func (f *RTTFilter) Samples() int { return f.count }
