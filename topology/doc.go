// Package topology decides whom a gradmesh peer averages with: overlay graphs
// and their generators, Metropolis–Hastings mixing weights, the spectral gap
// that governs how fast decentralized SGD reaches consensus, and measured
// round-trip-time matrices.
//
// It imports only the standard library and gonum, so it runs and tests
// without a network. Every random generator takes a *rand.Rand (or a seed)
// and is deterministic for a given seed. Functions return errors prefixed
// "topology: " on bad input and never panic on it.
package topology
