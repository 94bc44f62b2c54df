package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the gradmesh binary: with
// GRADMESH_MAIN=1 it runs the command line it was given, so process tests
// need no separate build.
func TestMain(m *testing.M) {
	if os.Getenv("GRADMESH_MAIN") == "1" {
		ctx, stop := signalContext()
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

type proc struct {
	cmd    *exec.Cmd
	status string // http://host:port of /status
	out    *strings.Builder
	done   chan error
}

var (
	peerUpRe   = regexp.MustCompile(`addrs="?(\S+)`)
	statusUpRe = regexp.MustCompile(`status server up"? addr=(\S+)`)
)

// startJoin runs `gradmesh join args...` as a child process and waits until
// it has logged its listen address and status address.
func startJoin(t *testing.T, args ...string) (p *proc, addr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"join"}, args...)...)
	cmd.Env = append(os.Environ(), "GRADMESH_MAIN=1")
	out := &strings.Builder{}
	cmd.Stdout = out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p = &proc{cmd: cmd, out: out, done: make(chan error, 1)}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
		p.done <- cmd.Wait()
	}()
	timeout := time.After(30 * time.Second)
	for addr == "" || p.status == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("peer exited during start-up")
			}
			if strings.Contains(line, "peer up") {
				if m := peerUpRe.FindStringSubmatch(line); m != nil {
					addr = strings.Trim(m[1], `"`)
				}
			}
			if m := statusUpRe.FindStringSubmatch(line); m != nil {
				p.status = "http://" + m[1]
			}
		case <-timeout:
			_ = cmd.Process.Kill()
			t.Fatalf("peer did not report its addresses within 30 s")
		}
	}
	go func() {
		for range lines { // keep draining so the child never blocks on stderr
		}
	}()
	return p, addr
}

func (p *proc) round(t *testing.T) int {
	resp, err := http.Get(p.status + "/status")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st struct {
		Round int `json:"round"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return -1
	}
	return st.Round
}

// TestSixJoinProcessesOneKilled: six `gradmesh join` processes find each
// other through one bootstrap address and the DHT (mDNS off); one is killed
// mid-run; the other five finish with accuracy ≥ 0.85 and exit 0.
func TestSixJoinProcessesOneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("process test: six gradmesh join processes on loopback")
	}
	dir := t.TempDir()
	const peers, rounds = 6, 200
	common := func(i int) []string {
		return []string{"--key", filepath.Join(dir, fmt.Sprintf("peer%d.key", i)), "--listen", "/ip4/127.0.0.1/tcp/0",
			"--no-mdns", "--run", "proc-test", "--shard", fmt.Sprintf("%d/%d", i, peers), "--rounds", fmt.Sprint(rounds),
			"--round-timeout", "1s", "--min-peers", fmt.Sprint(peers - 1), "--status-addr", "127.0.0.1:0", "--out", filepath.Join(dir, fmt.Sprintf("peer%d", i))}
	}
	procs := make([]*proc, peers)
	first, boot := startJoin(t, common(0)...)
	procs[0] = first
	if !strings.Contains(boot, "/p2p/") {
		t.Fatalf("bootstrap address %q lacks /p2p/ID", boot)
	}
	for i := 1; i < peers; i++ {
		procs[i], _ = startJoin(t, append(common(i), "--bootstrap", boot)...)
	}
	defer func() {
		for _, p := range procs {
			_ = p.cmd.Process.Kill()
		}
	}()
	// Poll the victim's /status: another process offers no event to wait on.
	deadline := time.After(90 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for procs[peers-1].round(t) < 50 {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("peer 5 did not reach round 50 within 90 s")
		}
	}
	_ = procs[peers-1].cmd.Process.Signal(syscall.SIGKILL)
	<-procs[peers-1].done
	for i, p := range procs[:peers-1] {
		select {
		case err := <-p.done:
			if err != nil {
				t.Fatalf("peer %d exited with %v; stdout %q", i, err, p.out.String())
			}
		case <-time.After(120 * time.Second):
			t.Fatalf("peer %d did not finish within 120 s", i)
		}
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("peer%d", i), "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		var sum struct {
			Acc       float64  `json:"final_test_accuracy"`
			Rounds    int      `json:"rounds"`
			Neighbors []string `json:"neighbors"`
			In        int64    `json:"bytes_in"`
			Out       int64    `json:"bytes_out"`
		}
		if err := json.Unmarshal(raw, &sum); err != nil {
			t.Fatal(err)
		}
		t.Logf("peer %d: %s", i, strings.TrimSpace(p.out.String()))
		if sum.Acc < 0.85 || sum.Rounds != rounds {
			t.Errorf("peer %d: accuracy %.4f after %d rounds, want ≥ 0.85 after %d", i, sum.Acc, sum.Rounds, rounds)
		}
	}
}
