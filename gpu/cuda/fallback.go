package cuda

import (
	"log/slog"

	"github.com/gradmesh/gradmesh/training"
)

// OpenOrCPU opens GPU deviceIndex and returns a backend whose models move to
// the CPU by themselves if the GPU fails later (training.WithCPUFallback).
// When the GPU cannot be opened it logs one warning that says why and
// returns the CPU backend, so a peer always trains.
func OpenOrCPU(deviceIndex int, log *slog.Logger) training.Backend {
	return openOrCPU(systemSearcher(), deviceIndex, log)
}

func openOrCPU(s *searcher, deviceIndex int, log *slog.Logger) training.Backend {
	b, err := open(s, deviceIndex)
	if err != nil {
		log.Warn("GPU unavailable, training on the CPU", "err", err)
		return training.CPUBackend{}
	}
	return training.WithCPUFallback(b, func(err error) {
		log.Warn("GPU failed, training continues on the CPU", "device", b.Device(), "err", err)
	})
}
