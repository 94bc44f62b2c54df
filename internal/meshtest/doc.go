// Package meshtest is the protocol-level simulation as a test harness:
// real gradmesh peers (libp2p hosts over QUIC, gossipsub, the live peer
// runtime) on a simulated network (go-libp2p's x/simlibp2p over
// marcopolo/simnet) whose packets wait for the RTTs of a latency matrix,
// inside a testing/synctest bubble, so that minutes of mesh time cost
// seconds of wall time. World is the network, RunMesh trains one peer per
// host and records what each did (Trace), and Outcome turns the records
// into curves and overlays to compare with the algorithm-level simulator.
//
// It is for tests only; it calls testing.T and reads the shared data
// beside the repository (PlanetLabPath).
package meshtest
