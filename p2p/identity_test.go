package p2p

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "gradmesh")
	path := filepath.Join(dir, "peer.key")

	key, created, err := LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v, want a new key", created, err)
	}
	if key.Type() != crypto.Ed25519 {
		t.Errorf("key type %v, want Ed25519", key.Type())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %04o, want 0600", perm)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm != 0o700 {
		t.Errorf("key directory mode %04o, want 0700", perm)
	}

	again, created, err := LoadOrCreateKey(path)
	if err != nil || created {
		t.Fatalf("second call: created=%v err=%v, want the existing key", created, err)
	}
	id1, _ := peer.IDFromPrivateKey(key)
	id2, _ := peer.IDFromPrivateKey(again)
	if id1 != id2 {
		t.Errorf("reloaded peer ID %s, want %s", id2, id1)
	}
}

func TestLoadOrCreateKeyRefusesOpenPermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peer.key")
	if _, _, err := LoadOrCreateKey(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadOrCreateKey(path)
	if err == nil {
		t.Fatal("a key file with mode 0644 was accepted")
	}
	for _, want := range []string{path, "chmod 600"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestLoadOrCreateKeyRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"garbage.key": []byte("this is not a key\n"),
		"empty.key":   nil,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, created, err := LoadOrCreateKey(path)
		if err == nil || created {
			t.Errorf("%s: created=%v err=%v, want an error", name, created, err)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the path", name, err)
		}
		if got, _ := os.ReadFile(path); string(got) != string(data) {
			t.Errorf("%s: the file was overwritten", name)
		}
	}
	if _, _, err := LoadOrCreateKey(""); err == nil {
		t.Error("an empty path was accepted")
	}
	if _, _, err := LoadOrCreateKey(dir); err == nil {
		t.Error("a directory was accepted as a key file")
	}
}
