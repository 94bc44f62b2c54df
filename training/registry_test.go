package training

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestShippedModelsAreRegistered(t *testing.T) {
	usages := ModelUsages()
	if len(usages) < 2 || usages[0] != "softmax" || usages[1] != "mlp:H1[,H2...]" {
		t.Fatalf("ModelUsages() = %q; want softmax and mlp:H1[,H2...] first", usages)
	}
	_, err := ParseModel("cnn:3x3", Flat(64), 10)
	if err == nil {
		t.Fatal("an unknown model was built")
	}
	for _, want := range []string{`unknown model "cnn:3x3"`, "softmax", "mlp:H1[,H2...]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestParseModelFlattensTheSampleShape(t *testing.T) {
	for _, c := range []struct {
		spec  string
		input Shape
		want  string
	}{
		{"mlp:32", Shape{1, 8, 8}, "mlp:64-32-10"},
		{"softmax", Shape{1, 28, 28}, "mlp:784-10"},
		{"mlp:16,8", Flat(5), "mlp:5-16-8-10"},
	} {
		m, err := ParseModel(c.spec, c.input, 10)
		if err != nil || m.Spec() != c.want {
			t.Errorf("ParseModel(%q, %s) = %v, %v; want %s", c.spec, c.input, m, err, c.want)
		}
	}
}

func TestParseModelRejectsBadInputAndClasses(t *testing.T) {
	for _, c := range []struct {
		input   Shape
		classes int
		want    string
	}{
		{nil, 10, "no dimensions"},
		{Shape{1, 0, 8}, 10, "1×0×8"},
		{Flat(64), 1, "1 classes"},
	} {
		_, err := ParseModel("mlp:8", c.input, c.classes)
		if err == nil || !strings.Contains(err.Error(), `model "mlp:8"`) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("input %v, %d classes: error %v, want one naming the model and saying %q", []int(c.input), c.classes, err, c.want)
		}
	}
}

// errArg is what the test-only model "registry-test" says of an argument.
var errArg = errors.New("takes no argument")

// registerTestModel registers, once per test binary (go test -count 2 runs
// tests twice), a model that exists only in this test: a softmax regression
// under another name, whose arg must be empty.
var registerTestModel = sync.OnceFunc(func() {
	RegisterModel("registry-test", "registry-test", func(arg string, input Shape, classes int) (Model, error) {
		if arg != "" {
			return nil, errArg
		}
		return NewMLP(input.Size(), classes)
	})
})

func TestRegisterModel(t *testing.T) {
	registerTestModel()
	if !slices.Contains(ModelUsages(), "registry-test") {
		t.Fatalf("ModelUsages() = %q lacks the new model", ModelUsages())
	}
	m, err := ParseModel("registry-test", Shape{1, 2, 2}, 3)
	if err != nil || m.Spec() != "mlp:4-3" {
		t.Fatalf("ParseModel(registry-test) = %v, %v; want mlp:4-3", m, err)
	}
	if _, err := ParseModel("registry-test:9", Flat(4), 3); !errors.Is(err, errArg) || !strings.Contains(err.Error(), `model "registry-test:9"`) {
		t.Errorf("builder error %v: want it wrapped with the spec", err)
	}
	if _, err := ParseModel("nope", Flat(4), 3); err == nil || !strings.Contains(err.Error(), "registry-test") {
		t.Errorf("unknown model: error %v, want it to list registry-test", err)
	}
	build := func(string, Shape, int) (Model, error) { return nil, nil }
	for _, c := range []struct {
		name  string
		build ModelBuilder
		usage string
	}{{"registry-test", build, "registry-test"}, {"", build, "x"}, {"a:b", build, "a:b"}, {"no-builder", nil, "no-builder"},
		{"no-usage", build, ""}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterModel(%q, %q) did not panic", c.name, c.usage)
				}
			}()
			RegisterModel(c.name, c.usage, c.build)
		}()
	}
}
