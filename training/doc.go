// Package training is what a gradmesh peer learns: flat float32 parameter
// vectors, models (found by name in a registry and built for a sample's
// shape), losses, optimizers, learning-rate schedules, datasets,
// partitioners and the decentralized-SGD core with no I/O and no clock: the
// Node state machine, the Aggregator it mixes with and the Pacer that ends
// rounds by deadline. A Recipe gathers what every peer of a run must share, and every shell
// (the simulator, the live peer, the protocol-level tests) prepares it and
// steps through a Stepper the same way. It imports gonum and nothing from the
// network side, so every piece runs and tests without a network, a clock or a
// GPU.
package training
