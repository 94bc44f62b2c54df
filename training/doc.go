// Package training is what a gradmesh peer learns: flat float32 parameter
// vectors, models, losses, optimizers, learning-rate schedules, datasets,
// partitioners and the decentralized-SGD algorithms as a state machine with no
// I/O. It imports gonum and nothing from the network side, so every piece runs
// and tests without a network, a clock or a GPU.
package training
