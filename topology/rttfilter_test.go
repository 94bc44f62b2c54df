package topology

import (
	"testing"
	"time"
)

func feedRTTFilter(t *testing.T, f *RTTFilter, samples ...time.Duration) time.Duration {
	t.Helper()
	var got time.Duration
	for _, s := range samples {
		var err error
		if got, err = f.Add(s); err != nil {
			t.Fatalf("Add(%v): %v", s, err)
		}
	}
	return got
}

func TestRTTFilterFirstSampleIsTheEstimate(t *testing.T) {
	var f RTTFilter
	if f.Smoothed() != 0 || f.Last() != 0 || f.Samples() != 0 {
		t.Fatalf("empty filter: smoothed %v, last %v, samples %d", f.Smoothed(), f.Last(), f.Samples())
	}
	if got := feedRTTFilter(t, &f, 42*time.Millisecond); got != 42*time.Millisecond || f.Last() != 42*time.Millisecond || f.Samples() != 1 {
		t.Fatalf("after one sample of 42ms: smoothed %v, last %v, samples %d", got, f.Last(), f.Samples())
	}
}

// Spikes that stay a minority of the window never reach the estimate; the
// last sample still reports them.
func TestRTTFilterIgnoresSpikes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spikes []time.Duration
	}{
		{"one spike", []time.Duration{2 * time.Second}},
		{"two spikes in a row", []time.Duration{900 * time.Millisecond, 3 * time.Second}},
		{"one dip", []time.Duration{time.Microsecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f RTTFilter
			for range RTTFilterWindow {
				feedRTTFilter(t, &f, 20*time.Millisecond)
			}
			if got := feedRTTFilter(t, &f, tc.spikes...); got != 20*time.Millisecond {
				t.Fatalf("estimate %v after %v, want 20ms untouched", got, tc.spikes)
			}
			if f.Last() != tc.spikes[len(tc.spikes)-1] {
				t.Errorf("last %v, want the spike %v", f.Last(), tc.spikes[len(tc.spikes)-1])
			}
			if got := feedRTTFilter(t, &f, 20*time.Millisecond); got != 20*time.Millisecond {
				t.Errorf("estimate %v once the spike passed, want 20ms", got)
			}
		})
	}
}

// A lasting change reaches the estimate once it is the majority of the
// window, then the EWMA closes the gap by RTTFilterGain per sample.
func TestRTTFilterFollowsALastingChange(t *testing.T) {
	var f RTTFilter
	for range RTTFilterWindow {
		feedRTTFilter(t, &f, 10*time.Millisecond)
	}
	want := []time.Duration{
		10 * time.Millisecond, // 2 of 5 samples at 50ms: the median is still 10ms
		10 * time.Millisecond,
		20 * time.Millisecond,    // 3 of 5: the median is 50ms; 10 + 0.25·(50−10)
		27500 * time.Microsecond, // 20 + 0.25·(50−20)
	}
	for i, w := range want {
		if got := feedRTTFilter(t, &f, 50*time.Millisecond); got != w {
			t.Fatalf("after %d samples of 50ms: estimate %v, want %v", i+1, got, w)
		}
	}
	for range 20 {
		feedRTTFilter(t, &f, 50*time.Millisecond)
	}
	if got := f.Smoothed(); got < 49*time.Millisecond || got > 50*time.Millisecond {
		t.Errorf("after 24 samples of 50ms: estimate %v, want within 1ms of 50ms", got)
	}
}

func TestRTTFilterSmoothsJitter(t *testing.T) {
	var f RTTFilter
	for i := range 100 {
		feedRTTFilter(t, &f, time.Duration(8+4*(i%2))*time.Millisecond) // 8, 12, 8, 12, …
		if i >= 4 && (f.Smoothed() < 8*time.Millisecond || f.Smoothed() > 12*time.Millisecond) {
			t.Fatalf("sample %d: estimate %v left the jitter band [8ms, 12ms]", i, f.Smoothed())
		}
	}
	// The window always holds three of one value and two of the other, so
	// the median swings by the whole 4ms jitter each sample; the EWMA settles
	// into a swing of 4/7 ms (between 9.71 and 10.29 ms).
	lo, hi := f.Smoothed(), feedRTTFilter(t, &f, 8*time.Millisecond)
	if lo > hi {
		lo, hi = hi, lo
	}
	if hi-lo > time.Millisecond {
		t.Errorf("estimate swings %v between samples, want under 1ms of the 4ms jitter", hi-lo)
	}
}

func TestRTTFilterRefusesBadSamples(t *testing.T) {
	var f RTTFilter
	feedRTTFilter(t, &f, 15*time.Millisecond)
	for _, bad := range []time.Duration{0, -time.Millisecond, MaxRTTSample + 1, 1 << 62} {
		got, err := f.Add(bad)
		if err == nil {
			t.Errorf("Add(%v) accepted", bad)
		}
		if got != 15*time.Millisecond || f.Smoothed() != 15*time.Millisecond || f.Last() != 15*time.Millisecond || f.Samples() != 1 {
			t.Errorf("Add(%v) changed the filter: estimate %v, last %v, samples %d", bad, f.Smoothed(), f.Last(), f.Samples())
		}
	}
	if _, err := f.Add(MaxRTTSample); err != nil {
		t.Errorf("Add(MaxRTTSample): %v", err)
	}
}
