package training

import (
	"fmt"
	"runtime"

	"github.com/gradmesh/gradmesh/nn"
)

// Backend makes models that compute on one device: the CPU, or a GPU through
// a package such as gpu/cuda. Models from every backend with the same spec
// share one parameter layout, so parameter vectors mix freely between peers
// that train on different hardware.
type Backend interface {
	// Name is the backend's short name for flags and logs: "cpu", "cuda".
	Name() string
	// Device describes the hardware in one line, for logs and status pages.
	Device() string
	// NewModel builds a model with ParseModel's semantics: spec names a
	// registered model ("softmax", "mlp:H1[,H2...]", ...), input is the
	// shape of one sample, classes the number of labels. A backend that
	// cannot run a valid spec's kind of model says so in its error.
	NewModel(spec string, input Shape, classes int) (Model, error)
	// Close frees everything the backend holds on its device. Models made by
	// it stop computing afterwards (see DeviceModel). Closing twice is a no-op.
	Close() error
}

// DeviceModel is a Model whose computation can fail at run time because it
// runs on a device: the device was lost, ran out of memory, or its backend
// was closed. Model has no error results, so after a failure LossGrad returns
// NaN with a zero gradient, Evaluate returns (0, NaN), and Err says why. A
// failure is final: a failed model keeps failing.
type DeviceModel interface {
	Model
	// Err returns the failure that stopped the model, or nil.
	Err() error
	// Close frees the model's device memory; afterwards Err reports that the
	// model is closed. Closing twice is a no-op.
	Close() error
}

// ModelErr returns the failure that stopped m, or nil for a healthy model and
// for models, like the CPU's, that cannot fail.
func ModelErr(m Model) error {
	if d, ok := m.(DeviceModel); ok {
		return d.Err()
	}
	return nil
}

// CloseModel frees m's device memory if it holds any.
func CloseModel(m Model) error {
	if d, ok := m.(DeviceModel); ok {
		return d.Close()
	}
	return nil
}

// CPUBackend computes on the host with the float32 BLAS nn.Use installed
// (OpenBLAS when a command found it, gonum otherwise). It is the default
// and holds nothing, so its zero value is ready and Close does nothing.
type CPUBackend struct{}

// Name implements Backend.
func (CPUBackend) Name() string { return "cpu" }

// Device implements Backend.
func (CPUBackend) Device() string {
	return fmt.Sprintf("%s/%s, %d logical CPUs, BLAS %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), nn.BLAS().Name())
}

// NewModel implements Backend.
func (CPUBackend) NewModel(spec string, input Shape, classes int) (Model, error) {
	return ParseModel(spec, input, classes)
}

// Close implements Backend.
func (CPUBackend) Close() error { return nil }
