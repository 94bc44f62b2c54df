package topology

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{
		"random": PolicyRandom, "latency": PolicyLatency, "latency+long": PolicyLatencyLong,
		" Latency+Long ": PolicyLatencyLong, "RANDOM": PolicyRandom,
	} {
		got, err := ParsePolicy(in)
		if err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "nearest", "latency+", "latency long"} {
		_, err := ParsePolicy(in)
		if err == nil {
			t.Errorf("ParsePolicy(%q) accepted", in)
			continue
		}
		for _, want := range []string{"random", "latency", "latency+long", "unknown neighbor policy"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("ParsePolicy(%q): error %q does not mention %q", in, err, want)
			}
		}
	}
}

func TestSelectConfigDefaults(t *testing.T) {
	got := SelectConfig{Seed: 9}.WithDefaults()
	want := SelectConfig{Policy: PolicyLatencyLong, Degree: 4, Long: 1, MaxDegree: 8, Shortlist: 8,
		Hysteresis: 0.2, LongPeriod: 2, AsyncRTT: 100 * time.Millisecond, RefusalMemory: 4,
		UplinkBudget: 100 * time.Millisecond, Seed: 9}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	// Long-range links exist only under latency+long; MaxDegree follows Degree.
	lat := SelectConfig{Policy: PolicyLatency, Degree: 6}.WithDefaults()
	if lat.Long != 0 || lat.MaxDegree != 12 {
		t.Errorf("latency defaults: Long=%d MaxDegree=%d, want 0 and 12", lat.Long, lat.MaxDegree)
	}
	// Set fields are kept.
	set := SelectConfig{Policy: PolicyRandom, Degree: 3, MaxDegree: 5, Shortlist: 4, Hysteresis: 0.5, LongPeriod: 2,
		AsyncRTT: 50 * time.Millisecond, RefusalMemory: 7, MessageBytes: 4096, UplinkBudget: 30 * time.Millisecond}
	if got := set.WithDefaults(); got != set {
		t.Errorf("WithDefaults changed set fields: %+v, want %+v", got, set)
	}
}

func TestSelectConfigValidate(t *testing.T) {
	base := SelectConfig{}.WithDefaults()
	cases := []struct {
		name string
		edit func(*SelectConfig)
		want string // "" = valid
	}{
		{"defaults", func(*SelectConfig) {}, ""},
		{"latency", func(c *SelectConfig) { c.Policy, c.Long = PolicyLatency, 0 }, ""},
		{"no hysteresis", func(c *SelectConfig) { c.Hysteresis = 0 }, ""},
		{"unknown policy", func(c *SelectConfig) { c.Policy = "nearest" }, `unknown policy "nearest"; valid policies: random, latency, latency+long`},
		{"empty policy", func(c *SelectConfig) { c.Policy = "" }, `unknown policy ""`},
		{"zero degree", func(c *SelectConfig) { c.Degree = 0 }, "Degree=0, want >= 1"},
		{"negative long", func(c *SelectConfig) { c.Long = -1 }, "Long=-1, want >= 0"},
		{"long under latency", func(c *SelectConfig) { c.Policy = PolicyLatency }, "Long=1, but only policy latency+long makes long-range links"},
		{"long = degree", func(c *SelectConfig) { c.Long = 4 }, "Long=4 must be below Degree=4"},
		{"max below degree", func(c *SelectConfig) { c.MaxDegree = 3 }, "MaxDegree=3 is below Degree=4"},
		{"short shortlist", func(c *SelectConfig) { c.Shortlist = 2 }, "Shortlist=2 is below the 3 near links"},
		{"hysteresis 1", func(c *SelectConfig) { c.Hysteresis = 1 }, "Hysteresis=1, want a fraction in [0, 1)"},
		{"hysteresis negative", func(c *SelectConfig) { c.Hysteresis = -0.1 }, "Hysteresis=-0.1"},
		{"hysteresis NaN", func(c *SelectConfig) { c.Hysteresis = math.NaN() }, "Hysteresis=NaN"},
		{"negative message size", func(c *SelectConfig) { c.MessageBytes = -1 }, "MessageBytes=-1"},
		{"long period", func(c *SelectConfig) { c.LongPeriod = -2 }, "LongPeriod=-2, want >= 1"},
		{"refusal memory", func(c *SelectConfig) { c.RefusalMemory = -1 }, "RefusalMemory=-1, want >= 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			c.edit(&cfg)
			err := cfg.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("valid config rejected: %v", err)
			case c.want != "" && err == nil:
				t.Errorf("accepted %+v, want error %q", cfg, c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Errorf("error %q, want it to contain %q", err, c.want)
			case c.want != "" && !strings.HasPrefix(err.Error(), "topology: neighbor selection: "):
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}
