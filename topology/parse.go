package topology

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// parseStream is the PCG stream Parse draws random graphs from, so that a
// seed shared with other parts of a run gives unrelated draws here.
const parseStream = 0x746f706f6c6f6779 // "topology"

// validSpecs lists the forms Parse accepts, for error messages and flag help.
const validSpecs = "ring, torus, complete, exponential, regular:K (integer, 1 <= K < peers), " +
	"erdos-renyi:P (0 < P <= 1), geometric:R (0 < R, in unit-square lengths)"

// Parse builds the graph named by a flag value on n peers: "ring", "torus",
// "complete", "exponential", "regular:K", "erdos-renyi:P" or "geometric:R".
// Names are case-insensitive. Random graphs are drawn from seed, so the same
// spec, n and seed always give the same graph. A bad spec (unknown name,
// missing, garbage or out-of-range parameter) returns an error naming the
// spec and the valid forms.
func Parse(spec string, n int, seed uint64) (*Graph, error) {
	name, param, hasParam := strings.Cut(strings.ToLower(strings.TrimSpace(spec)), ":")
	bad := func(why string) error {
		return fmt.Errorf("topology: bad topology %q: %s; valid forms: %s", spec, why, validSpecs)
	}
	rng := rand.New(rand.NewPCG(seed, parseStream))
	var g *Graph
	var err error
	switch name {
	case "ring", "torus", "complete", "exponential":
		if hasParam {
			return nil, bad(fmt.Sprintf("%s takes no parameter", name))
		}
		switch name {
		case "ring":
			g, err = Ring(n)
		case "torus":
			g, err = Torus(n)
		case "complete":
			g, err = Complete(n)
		default:
			g, err = Exponential(n)
		}
	case "regular":
		k, perr := strconv.Atoi(param)
		switch {
		case !hasParam || param == "":
			return nil, bad("missing degree K, as in regular:4")
		case perr != nil:
			return nil, bad(fmt.Sprintf("degree K=%q is not an integer", param))
		case k < 1:
			return nil, bad(fmt.Sprintf("degree K=%d, want K >= 1", k))
		}
		g, err = RandomRegular(n, k, rng)
	case "erdos-renyi":
		p, perr := parseSpecFloat(param, hasParam, "edge probability P", "erdos-renyi:0.1")
		if perr != "" {
			return nil, bad(perr)
		}
		if !(p > 0 && p <= 1) {
			return nil, bad(fmt.Sprintf("edge probability P=%g, want 0 < P <= 1", p))
		}
		g, err = ErdosRenyi(n, p, rng)
	case "geometric":
		r, perr := parseSpecFloat(param, hasParam, "radius R", "geometric:0.2")
		if perr != "" {
			return nil, bad(perr)
		}
		if !(r > 0) {
			return nil, bad(fmt.Sprintf("radius R=%g, want R > 0", r))
		}
		g, _, err = Geometric(n, r, rng)
	case "":
		return nil, bad("empty name")
	default:
		return nil, bad(fmt.Sprintf("unknown name %q", name))
	}
	if err != nil {
		// The generator's message already says what is wrong; add the spec.
		return nil, fmt.Errorf("topology: %q with %d peers: %s", spec, n, strings.TrimPrefix(err.Error(), "topology: "))
	}
	return g, nil
}

// parseSpecFloat reads a finite float parameter. It returns a non-empty
// reason when the parameter is missing or not a finite number.
func parseSpecFloat(param string, hasParam bool, what, example string) (float64, string) {
	if !hasParam || param == "" {
		return 0, fmt.Sprintf("missing %s, as in %s", what, example)
	}
	v, err := strconv.ParseFloat(param, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Sprintf("%s=%q is not a finite number", what, param)
	}
	return v, ""
}
