package training

import (
	"fmt"
	"strings"
	"sync"
)

// ModelBuilder builds one kind of model. arg is what follows "NAME:" in the
// model spec ("" when there is nothing), input the shape of one sample and
// classes the number of labels. ParseModel has already checked that input is
// a valid shape and classes ≥ 2, and it prefixes the builder's errors with
// the spec, so they need only say what is wrong with arg.
type ModelBuilder func(arg string, input Shape, classes int) (Model, error)

// registry holds builders by name, in registration order: the order errors
// and flag help list them in. The model and aggregation-rule registries are
// two of them.
type registry[B any] struct {
	kind    string // "model", "aggregator": for panics
	mu      sync.RWMutex
	entries []registryEntry[B]
}

type registryEntry[B any] struct {
	name, usage string
	build       B
}

// add registers build under name. It panics when name is empty, holds a
// colon or space, or is taken, usage is empty or there is no builder:
// those are mistakes in the program, not in its input, and an init that
// makes them fails the first time the program starts.
func (r *registry[B]) add(name, usage string, build B, noBuilder bool) {
	if name == "" || strings.ContainsAny(name, ": ") || usage == "" || noBuilder {
		panic(fmt.Sprintf("training: registering %s %q with usage %q: want a name without ':' or spaces, a usage and a builder", r.kind, name, usage))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		if e.name == name {
			panic(fmt.Sprintf("training: %s %q registered twice", r.kind, name))
		}
	}
	r.entries = append(r.entries, registryEntry[B]{name: name, usage: usage, build: build})
}

// lookup returns the builder registered under name.
func (r *registry[B]) lookup(name string) (B, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, e := range r.entries {
		if e.name == name {
			return e.build, true
		}
	}
	var none B
	return none, false
}

// usages lists how to write each entry's spec, in registration order.
func (r *registry[B]) usages() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.usage
	}
	return out
}

// models holds every model kind ParseModel knows.
var models = registry[ModelBuilder]{kind: "model"}

// RegisterModel makes a kind of model available to ParseModel, and so to
// --model, under name: the spec "NAME" or "NAME:ARG" calls build with ARG.
// usage shows how to write the spec, e.g. "mlp:H1[,H2...]", for help and
// error messages. Adding a model takes one file, with its type and builder,
// and one RegisterModel call, made from that file's init. It panics on a
// mistake in the program: an empty, taken or malformed name, no usage or no
// builder.
func RegisterModel(name, usage string, build ModelBuilder) {
	models.add(name, usage, build, build == nil)
}

// ModelUsages lists how to write each registered model's spec, in
// registration order, e.g. ["softmax", "mlp:H1[,H2...]"].
func ModelUsages() []string { return models.usages() }

// ParseModel builds the model a --model value names, e.g. "softmax" or
// "mlp:128,64", for samples of the given shape and classes labels. An
// unknown name is an error that lists the registered models.
func ParseModel(spec string, input Shape, classes int) (Model, error) {
	build, arg, err := lookupModel(spec)
	if err != nil {
		return nil, err
	}
	if err := input.Validate(); err != nil {
		return nil, fmt.Errorf("training: model %q: input %w", spec, err)
	}
	if classes < 2 {
		return nil, fmt.Errorf("training: model %q: %d classes, want at least 2", spec, classes)
	}
	m, err := build(arg, input, classes)
	if err != nil {
		return nil, fmt.Errorf("training: model %q: %w", spec, err)
	}
	return m, nil
}

// lookupModel splits a model spec into its registered kind's builder and
// the argument to pass it; an unknown kind is an error listing the known.
func lookupModel(spec string) (ModelBuilder, string, error) {
	name, arg, _ := strings.Cut(spec, ":")
	if build, ok := models.lookup(name); ok {
		return build, arg, nil
	}
	return nil, "", fmt.Errorf("training: unknown model %q (want %s)", spec, orList(ModelUsages()))
}

// orList writes choices as prose: "a", "a or b", "a, b or c".
func orList(choices []string) string {
	if len(choices) <= 1 {
		return strings.Join(choices, "")
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}
