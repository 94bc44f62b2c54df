package gpu

import (
	"io/fs"
	"strconv"
	"strings"
	"unicode"
)

// maxCommBytes bounds what is read from /proc/PID/comm; the kernel keeps
// 16 bytes (15 for the name), so anything longer is not a comm file.
const maxCommBytes = 64

// processName reads the command name of pid from procFS (a view of /proc),
// or "" when it cannot: the process may have exited, or live in another PID
// namespace. Names are chosen by whoever started the process, so control
// characters are replaced: a name must not be able to drive the terminal
// that `gradmesh gpus` prints to.
func processName(procFS fs.FS, pid uint32) string {
	if procFS == nil || pid == 0 {
		return ""
	}
	f, err := procFS.Open(strconv.FormatUint(uint64(pid), 10) + "/comm")
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, maxCommBytes)
	n, _ := f.Read(buf)
	name := strings.TrimSuffix(string(buf[:n]), "\n")
	return strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, name)
}
