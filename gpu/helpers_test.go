//go:build cgo

package gpu

import (
	"strconv"
	"testing"
	"testing/fstest"

	"github.com/gradmesh/gradmesh/gpu/nvmltest"
)

// open starts an NVML session on a mock machine with a fake /proc.
func open(t testing.TB, m *nvmltest.Machine, procs fstest.MapFS) *NVML {
	t.Helper()
	s, err := OpenNVML(m.Server, WithProcFS(procs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// procFS is a fake /proc naming the given PIDs.
func procFS(names map[uint32]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for pid, name := range names {
		fsys[strconv.FormatUint(uint64(pid), 10)+"/comm"] = &fstest.MapFile{Data: []byte(name + "\n")}
	}
	return fsys
}
