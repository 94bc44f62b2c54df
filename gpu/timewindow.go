package gpu

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TimeWindow is a daily span of wall-clock time, such as 22:00-07:00, in
// which an owner lets gradmesh use the GPU. Start and End are offsets from
// midnight in [0, 24h]; an End before Start wraps past midnight. Times are
// read in the location of the time tested (local time for the Monitor), so
// a window keeps its wall-clock meaning across daylight-saving changes.
type TimeWindow struct {
	Start, End time.Duration
}

// ParseTimeWindow reads "HH:MM-HH:MM" (24-hour clock; "24:00" ends a day).
func ParseTimeWindow(s string) (TimeWindow, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return TimeWindow{}, fmt.Errorf("gpu: time window %q: want HH:MM-HH:MM, e.g. 22:00-07:00", s)
	}
	start, err := parseClock(from)
	if err != nil {
		return TimeWindow{}, fmt.Errorf("gpu: time window %q: start: %v", s, err)
	}
	end, err := parseClock(to)
	if err != nil {
		return TimeWindow{}, fmt.Errorf("gpu: time window %q: end: %v", s, err)
	}
	w := TimeWindow{Start: start, End: end}
	if err := w.Validate(); err != nil {
		return TimeWindow{}, fmt.Errorf("gpu: time window %q: %v", s, err)
	}
	return w, nil
}

func parseClock(s string) (time.Duration, error) {
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	h, herr := strconv.Atoi(hh)
	m, merr := strconv.Atoi(mm)
	if !ok || herr != nil || merr != nil || len(mm) != 2 || h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, fmt.Errorf("%q is not a time of day HH:MM (00:00 to 24:00)", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// Validate checks that both ends lie within a day and differ.
func (w TimeWindow) Validate() error {
	const day = 24 * time.Hour
	if w.Start < 0 || w.Start > day || w.End < 0 || w.End > day {
		return fmt.Errorf("ends %v and %v must lie between 00:00 and 24:00", w.Start, w.End)
	}
	if w.Start == w.End {
		return fmt.Errorf("starts and ends at %s: an empty window; leave windows out to allow any time", clock(w.Start))
	}
	return nil
}

// Contains reports whether t's wall-clock time falls in the window (start
// inclusive, end exclusive).
func (w TimeWindow) Contains(t time.Time) bool {
	h, m, s := t.Clock()
	tod := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second +
		time.Duration(t.Nanosecond())
	if w.Start <= w.End {
		return w.Start <= tod && tod < w.End
	}
	return tod >= w.Start || tod < w.End
}

func (w TimeWindow) String() string { return clock(w.Start) + "-" + clock(w.End) }

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
