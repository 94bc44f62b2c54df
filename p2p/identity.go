package p2p

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// keyFileMode is the mode of a key file: readable by its owner only.
const keyFileMode fs.FileMode = 0o600

// LoadOrCreateKey reads a libp2p private key from path, stored in libp2p's
// protobuf encoding (crypto.MarshalPrivateKey). If path does not exist it
// creates a new Ed25519 key there, with mode 0600 and any missing parent
// directories with mode 0700, and reports created = true.
//
// A key file that group or others may read (mode & 0o077 != 0) is refused:
// whoever reads it can impersonate the peer. A file that is not a valid key
// is an error naming the path. An existing file is never overwritten.
func LoadOrCreateKey(path string) (key crypto.PrivKey, created bool, err error) {
	if path == "" {
		return nil, false, errors.New("p2p: key file path is empty")
	}
	key, err = loadKey(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key, err = createKey(path)
	if errors.Is(err, fs.ErrExist) { // lost a race with another creator
		key, err = loadKey(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// loadKey reads and checks the key file at path. The returned error wraps
// fs.ErrNotExist when there is no file.
func loadKey(path string) (crypto.PrivKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("p2p: key file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("p2p: key file %s is not a regular file", path)
	}
	// Unix permission bits mean nothing on Windows.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("p2p: key file %s has mode %04o and is readable by other users; run: chmod 600 %s", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("p2p: reading key file %s: %w", path, err)
	}
	key, err := crypto.UnmarshalPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("p2p: key file %s does not hold a libp2p private key: %v", path, err)
	}
	return key, nil
}

// createKey writes a new Ed25519 key to path, which must not exist (the
// returned error wraps fs.ErrExist if it does).
func createKey(path string) (crypto.PrivKey, error) {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("p2p: generating a key for %s: %w", path, err)
	}
	data, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("p2p: encoding the key for %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("p2p: creating the directory of key file %s: %w", path, err)
	}
	// O_EXCL: never clobber a key another process wrote meanwhile.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, keyFileMode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		return nil, fmt.Errorf("p2p: creating key file %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // leave no half-written key behind
		return nil, fmt.Errorf("p2p: writing key file %s: %w", path, err)
	}
	return key, nil
}
