package training_test

import (
	"testing"

	"github.com/gradmesh/gradmesh/training"
	"github.com/gradmesh/gradmesh/training/modeltest"
)

func TestCPUBackendKeepsTheModelContract(t *testing.T) {
	modeltest.Run(t, func() (training.Backend, error) { return training.CPUBackend{}, nil }, modeltest.Config{})
}

func TestCPUBackendBuildsParseModelModels(t *testing.T) {
	m, err := training.CPUBackend{}.NewModel("mlp:32,16", training.Flat(64), 10)
	if err != nil || m.Spec() != "mlp:64-32-16-10" {
		t.Fatalf("NewModel = %v, %v; want mlp:64-32-16-10", m, err)
	}
	if training.ModelErr(m) != nil || training.CloseModel(m) != nil {
		t.Fatal("a CPU model reports an error")
	}
}
