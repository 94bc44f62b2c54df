package training

import (
	"fmt"
	"strings"
)

// Aggregator is the rule a node combines its own vector with its
// neighbors' by at the end of a round: the weighted mean of D-PSGD by
// default, a robust rule where neighbors may lie. A node calls it once a
// round for its near neighbors and once per long-link exchange it closes,
// always from the node's goroutine; an aggregator may keep state across
// rounds (an adaptive clipping radius), so every node has its own.
type Aggregator interface {
	// Mix writes the round's combined vector into out (zeroed, as long as
	// own). own is the node's vector with weight self: its W_ii plus the
	// weights of neighbors that did not arrive and of long neighbors (mixed
	// by Correct instead). in holds the near neighbors that arrived, sorted
	// by ID, each with its weight W_ij; their weights and self sum to 1.
	Mix(out, own []float32, self float64, in []Arrival)
	// Correct adds to out the correction of one long-link exchange of
	// weight w: this node sent mine, the neighbor sent theirs. The weighted
	// mean adds w·(theirs − mine); the neighbor adds the mirror image, so
	// the two corrections cancel in the mesh average.
	Correct(out []float32, w float64, theirs, mine []float32)
}

// Arrival is one neighbor's vector as a round mixes it.
type Arrival struct {
	From   PeerID
	Weight float64
	Params []float32
	// Spans are the coordinates that arrived, sorted and disjoint; nil
	// means all of them. A vector ended by a deadline may lack some
	// shards: a rule decides what a missing coordinate counts as (the
	// weighted mean counts the node's own value, as if that neighbor's
	// weight stayed with the node for it).
	Spans []Span
}

// Span is a half-open range [Lo, Hi) of vector coordinates.
type Span struct{ Lo, Hi int }

// checkSpans: nil (the whole vector), or sorted, disjoint, non-empty
// spans inside [0, n), at least one.
func checkSpans(spans []Span, n int) error {
	if spans != nil && len(spans) == 0 {
		return fmt.Errorf("no span: a vector of which nothing arrived is not one")
	}
	at := 0
	for i, s := range spans {
		if s.Lo < at || s.Hi <= s.Lo || s.Hi > n {
			return fmt.Errorf("span %d [%d, %d) of a %d-value vector: want sorted, disjoint, non-empty spans inside it", i, s.Lo, s.Hi, n)
		}
		at = s.Hi
	}
	return nil
}

// Mean is D-PSGD's rule: Σ_j W_ij·x_j over the node itself and the near
// neighbors that arrived, a missing coordinate of a partial vector taking
// the node's own value; a long-link exchange adds w·(theirs − mine).
type Mean struct{}

// Mix implements Aggregator.
func (Mean) Mix(out, own []float32, self float64, in []Arrival) {
	for _, a := range in {
		w := float32(a.Weight)
		if a.Spans == nil {
			axpy(w, a.Params, out)
			continue
		}
		at := 0
		for _, s := range a.Spans {
			axpy(w, own[at:s.Lo], out[at:s.Lo])
			axpy(w, a.Params[s.Lo:s.Hi], out[s.Lo:s.Hi])
			at = s.Hi
		}
		axpy(w, own[at:], out[at:])
	}
	axpy(float32(self), own, out)
}

// Correct implements Aggregator.
func (Mean) Correct(out []float32, w float64, theirs, mine []float32) {
	axpy(float32(w), theirs, out)
	axpy(-float32(w), mine, out)
}

// DefaultAggregator is the rule a node mixes with unless told otherwise.
const DefaultAggregator = "mean"

// aggregators holds every rule ParseAggregator knows.
var aggregators = registry[func(arg string) (Aggregator, error)]{kind: "aggregator"}

func init() {
	RegisterAggregator("mean", "mean", func(arg string) (Aggregator, error) {
		if arg != "" {
			return nil, fmt.Errorf("mean takes no argument")
		}
		return Mean{}, nil
	})
}

// RegisterAggregator makes a rule available to ParseAggregator, and so to
// --aggregate, under name: the spec "NAME" or "NAME:ARG" calls build(ARG)
// for each node. usage shows the spec's form in help and errors, e.g.
// "trimmed:FRACTION". Adding a rule takes one file implementing Aggregator
// and one RegisterAggregator call, made from that file's init. Like
// RegisterModel, it panics on a mistake in the program.
func RegisterAggregator(name, usage string, build func(arg string) (Aggregator, error)) {
	aggregators.add(name, usage, build, build == nil)
}

// AggregatorUsages lists how to write each registered rule's spec, in
// registration order.
func AggregatorUsages() []string { return aggregators.usages() }

// ParseAggregator builds a node's rule from a spec such as "mean".
func ParseAggregator(spec string) (Aggregator, error) {
	name, arg, _ := strings.Cut(spec, ":")
	build, ok := aggregators.lookup(name)
	if !ok {
		return nil, fmt.Errorf("training: unknown aggregator %q (want %s)", spec, orList(AggregatorUsages()))
	}
	a, err := build(arg)
	switch {
	case err != nil:
		return nil, fmt.Errorf("training: aggregator %q: %w", spec, err)
	case a == nil:
		return nil, fmt.Errorf("training: aggregator %q: its builder returned no rule", spec)
	}
	return a, nil
}
