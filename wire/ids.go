package wire

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
)

// RunID names a training run on the wire: the first 16 bytes of
// SHA-256("gradmesh/run/" + run).
func RunID(run string) [16]byte { return hash16("gradmesh/run/" + run) }

// ModelFingerprint identifies a parameter layout: the first 16 bytes of
// SHA-256("gradmesh/model/" + spec + "/" + params in decimal).
func ModelFingerprint(spec string, params int) [16]byte {
	return hash16("gradmesh/model/" + spec + "/" + strconv.Itoa(params))
}

// RunSeed is the run-wide seed of neighbor selection (rendezvous hashing of
// random and long links), the same on every peer of the run: the first 8
// bytes, little-endian, of SHA-256("gradmesh/neighbors/" + run).
func RunSeed(run string) uint64 {
	h := hash16("gradmesh/neighbors/" + run)
	return binary.LittleEndian.Uint64(h[:8])
}

func hash16(s string) [16]byte {
	sum := sha256.Sum256([]byte(s))
	return [16]byte(sum[:16])
}
