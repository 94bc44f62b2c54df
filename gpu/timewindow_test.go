package gpu

import (
	"strings"
	"testing"
	"time"
)

func TestParseTimeWindow(t *testing.T) {
	good := map[string]TimeWindow{
		"22:00-07:00":  {22 * time.Hour, 7 * time.Hour},
		"09:30-17:45":  {9*time.Hour + 30*time.Minute, 17*time.Hour + 45*time.Minute},
		" 00:00-24:00": {0, 24 * time.Hour},
	}
	for s, want := range good {
		got, err := ParseTimeWindow(s)
		if err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", s, got, err, want)
		}
	}
	bad := map[string]string{
		"22:00":       "want HH:MM-HH:MM",
		"22:00-7":     "end: \"7\" is not a time of day",
		"25:00-07:00": "start: \"25:00\"",
		"24:30-07:00": "start: \"24:30\"",
		"10:60-11:00": "start: \"10:60\"",
		"10:5-11:00":  "start: \"10:5\"",
		"08:00-08:00": "empty window",
	}
	for s, want := range bad {
		if _, err := ParseTimeWindow(s); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), s) {
			t.Errorf("%q: error %v; want one naming the input and %q", s, err, want)
		}
	}
}

func TestTimeWindowContains(t *testing.T) {
	zone := time.FixedZone("UTC+9", 9*3600)
	day := func(h, m int) time.Time { return time.Date(2025, 6, 1, h, m, 0, 0, zone) }
	night, _ := ParseTimeWindow("22:00-07:00")
	office, _ := ParseTimeWindow("09:00-17:00")
	cases := []struct {
		w    TimeWindow
		at   time.Time
		want bool
	}{
		{night, day(21, 59), false},
		{night, day(22, 0), true},
		{night, day(23, 59), true},
		{night, day(0, 0), true},
		{night, day(6, 59), true},
		{night, day(7, 0), false},
		{office, day(8, 59), false},
		{office, day(9, 0), true},
		{office, day(16, 59), true},
		{office, day(17, 0), false},
		// The wall clock of the time's own zone counts, not UTC.
		{office, day(10, 0).UTC(), false},
	}
	for _, c := range cases {
		if got := c.w.Contains(c.at); got != c.want {
			t.Errorf("%s contains %s: %v, want %v", c.w, c.at.Format("15:04 MST"), got, c.want)
		}
	}
}
