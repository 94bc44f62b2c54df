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

// registeredModel is one entry of the model registry.
type registeredModel struct {
	name, usage string
	build       ModelBuilder
}

// modelRegistry holds every model kind ParseModel knows, in registration
// order: the order errors and flag help list them in.
var modelRegistry struct {
	mu     sync.RWMutex
	models []registeredModel
}

// RegisterModel makes a kind of model available to ParseModel, and so to
// --model, under name: the spec "NAME" or "NAME:ARG" calls build with ARG.
// usage shows how to write the spec, e.g. "mlp:H1[,H2...]", for help and
// error messages. Adding a model takes one file, with its type and builder,
// and one RegisterModel call, made from that file's init.
//
// RegisterModel panics when name is empty, holds a colon or is taken, usage
// is empty or build is nil: those are mistakes in the program, not in its
// input, and an init that makes them fails the first time the program
// starts.
func RegisterModel(name, usage string, build ModelBuilder) {
	if name == "" || strings.Contains(name, ":") || usage == "" || build == nil {
		panic(fmt.Sprintf("training: RegisterModel(%q, %q): want a name without a colon, a usage and a builder", name, usage))
	}
	modelRegistry.mu.Lock()
	defer modelRegistry.mu.Unlock()
	for _, m := range modelRegistry.models {
		if m.name == name {
			panic(fmt.Sprintf("training: RegisterModel: model %q registered twice", name))
		}
	}
	modelRegistry.models = append(modelRegistry.models, registeredModel{name: name, usage: usage, build: build})
}

// ModelUsages lists how to write each registered model's spec, in
// registration order, e.g. ["softmax", "mlp:H1[,H2...]"].
func ModelUsages() []string {
	modelRegistry.mu.RLock()
	defer modelRegistry.mu.RUnlock()
	usages := make([]string, len(modelRegistry.models))
	for i, m := range modelRegistry.models {
		usages[i] = m.usage
	}
	return usages
}

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
	if build := registeredBuilder(name); build != nil {
		return build, arg, nil
	}
	return nil, "", fmt.Errorf("training: unknown model %q (want %s)", spec, orList(ModelUsages()))
}

// registeredBuilder returns the builder registered under name, or nil.
func registeredBuilder(name string) ModelBuilder {
	modelRegistry.mu.RLock()
	defer modelRegistry.mu.RUnlock()
	for _, m := range modelRegistry.models {
		if m.name == name {
			return m.build
		}
	}
	return nil
}

// orList writes choices as prose: "a", "a or b", "a, b or c".
func orList(choices []string) string {
	if len(choices) <= 1 {
		return strings.Join(choices, "")
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}
