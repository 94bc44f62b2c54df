// Package sims is gradmesh's virtual world: the algorithm-level simulator
// that runs hundreds or thousands of peers in one process on a virtual clock,
// the network model that prices their messages, and the outputs researchers
// read (metrics.csv, summary.json, plots).
//
// Every simulated peer is a training.Node, the same state machine the live
// peer runs; the simulator is only a different shell around it.
package sims
