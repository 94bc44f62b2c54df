package nn_test

import (
	"testing"

	"github.com/gradmesh/gradmesh/internal/blastest"
)

func TestMain(m *testing.M) { blastest.Main(m) }
