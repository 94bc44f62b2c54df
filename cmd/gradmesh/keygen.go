package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/p2p"
)

// runKeygen writes a new peer key and prints its ID (the last line of
// stdout is the bare ID, for scripts).
func runKeygen(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) != 1 {
		return usageError("want exactly one argument: gradmesh keygen FILE")
	}
	path := args[0]
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists; refusing to overwrite a peer identity", path)
	}
	key, _, err := p2p.LoadOrCreateKey(path)
	if err != nil {
		return err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (mode 0600)\n%s\n", path, id)
	return nil
}
