package topology

import (
	"strings"
	"testing"
)

func TestParseGoodSpecs(t *testing.T) {
	const irregular = -1
	cases := []struct {
		spec   string
		n      int
		degree int
	}{
		{"ring", 10, 2},
		{"torus", 16, 4},
		{"complete", 7, 6},
		{"exponential", 16, 7},
		{"regular:4", 20, 4},
		{"erdos-renyi:0.3", 30, irregular},
		{"erdos-renyi:1", 8, 7},
		{"geometric:0.3", 30, irregular},
		{" Ring ", 5, 2},
		{"EXPONENTIAL", 1000, 20},
	}
	for _, c := range cases {
		g, err := Parse(c.spec, c.n, 1)
		if err != nil {
			t.Errorf("Parse(%q, %d): %v", c.spec, c.n, err)
			continue
		}
		if err := g.Validate(); err != nil {
			t.Errorf("Parse(%q, %d): %v", c.spec, c.n, err)
		}
		if g.N != c.n {
			t.Errorf("Parse(%q, %d): N = %d", c.spec, c.n, g.N)
		}
		if c.degree != irregular && (g.MaxDegree() != c.degree || g.Edges()*2 != c.degree*c.n) {
			t.Errorf("Parse(%q, %d): max degree %d with %d edges, want %d-regular", c.spec, c.n, g.MaxDegree(), g.Edges(), c.degree)
		}
	}
}

func TestParseIsDeterministic(t *testing.T) {
	for _, spec := range []string{"regular:3", "erdos-renyi:0.2", "geometric:0.3"} {
		a, errA := Parse(spec, 40, 9)
		b, errB := Parse(spec, 40, 9)
		c, errC := Parse(spec, 40, 10)
		if errA != nil || errB != nil || errC != nil {
			t.Fatalf("%s: %v %v %v", spec, errA, errB, errC)
		}
		if !sameGraph(a, b) {
			t.Errorf("%s: seed 9 gave two different graphs", spec)
		}
		if sameGraph(a, c) {
			t.Errorf("%s: seeds 9 and 10 gave the same graph", spec)
		}
	}
}

func TestParseBadSpecs(t *testing.T) {
	cases := []struct {
		spec string
		why  string
	}{
		{"", "empty name"},
		{"hypercube", `unknown name "hypercube"`},
		{"ring:3", "ring takes no parameter"},
		{"torus:", "torus takes no parameter"},
		{"regular", "missing degree K"},
		{"regular:", "missing degree K"},
		{"regular:0", "K=0, want K >= 1"},
		{"regular:-2", "K=-2"},
		{"regular:x", `K="x" is not an integer`},
		{"regular:2.5", `K="2.5" is not an integer`},
		{"erdos-renyi", "missing edge probability P"},
		{"erdos-renyi:0", "P=0, want 0 < P <= 1"},
		{"erdos-renyi:1.5", "P=1.5, want 0 < P <= 1"},
		{"erdos-renyi:-0.1", "P=-0.1"},
		{"erdos-renyi:abc", `P="abc" is not a finite number`},
		{"erdos-renyi:nan", `P="nan" is not a finite number`},
		{"geometric", "missing radius R"},
		{"geometric:0", "R=0, want R > 0"},
		{"geometric:-1", "R=-1"},
		{"geometric:inf", `R="inf" is not a finite number`},
	}
	for _, c := range cases {
		_, err := Parse(c.spec, 16, 1)
		if err == nil {
			t.Errorf("Parse(%q): no error", c.spec)
			continue
		}
		msg := err.Error()
		for _, want := range []string{"topology: bad topology ", `"` + c.spec + `"`, c.why, "valid forms: ring, torus"} {
			if !strings.Contains(msg, want) {
				t.Errorf("Parse(%q): error %q, want it to contain %q", c.spec, msg, want)
			}
		}
	}
}

// Specs that are well formed but do not fit the number of peers get the
// generator's reason together with the spec.
func TestParseSpecsThatDoNotFitN(t *testing.T) {
	cases := []struct {
		spec string
		n    int
		want string
	}{
		{"torus", 14, `topology: "torus" with 14 peers: torus needs n = rows×cols`},
		{"regular:3", 5, `topology: "regular:3" with 5 peers: random regular graph needs n·k even`},
		{"regular:8", 8, "0 <= k < n"},
		{"ring", 0, `"ring" with 0 peers: ring needs n >= 1`},
	}
	for _, c := range cases {
		_, err := Parse(c.spec, c.n, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q, %d): error %v, want one containing %q", c.spec, c.n, err, c.want)
		}
	}
}
