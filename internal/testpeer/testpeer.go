// Package testpeer makes libp2p peer IDs for tests: deterministic ones,
// so that tests and the protocol document can name fixed peers, and fresh
// ones.
package testpeer

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ID is the Ed25519 peer ID drawn from seed: the same seed always gives the
// same ID.
func ID(t testing.TB, seed uint64) peer.ID {
	t.Helper()
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	_, pub, err := crypto.GenerateEd25519Key(rand.NewChaCha8(s))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Fresh is a new peer ID, different on every call.
func Fresh(t testing.TB) peer.ID {
	t.Helper()
	return ID(t, rand.Uint64())
}
