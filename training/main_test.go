package training

import (
	"testing"

	"github.com/gradmesh/gradmesh/internal/blastest"
)

func TestMain(m *testing.M) { blastest.Main(m) }
