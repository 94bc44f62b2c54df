package gossip_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/gradmesh/gradmesh/gossip"
	"github.com/gradmesh/gradmesh/p2p"
	"github.com/gradmesh/gradmesh/wire"
)

// BenchmarkDissemination measures how long one full parameter vector takes to
// reach k = 4 receivers, completely reassembled, on loopback TCP between real
// libp2p hosts, in two ways:
//
//   - gossipsub: as gradmesh sends it (NewPubSub, the sender's ParamTopic,
//     256 KiB shards, one Publish per shard);
//   - raw: one libp2p stream per receiver per vector, opened concurrently,
//     carrying the same encoded shards, each behind a 4-byte length.
//
// The clock runs from the first Publish or NewStream until the last receiver
// has decoded its last shard; encoding the shards is left out (it is the same
// for both). Metrics: ms/vector; MB/s = payload bytes × k / time, 1 MB = 1e6
// B; wire-bytes/vector = bytes that came in on streams of every protocol at
// all k receivers (Host.Bandwidth), per vector. All five hosts are connected
// to each other, so any forwarding between receivers would show up there.
//
//	go test -run '^$' -bench Dissemination -benchtime 5x ./gossip/
func BenchmarkDissemination(b *testing.B) {
	const receivers = 4
	f := newDissemFixture(b, receivers)
	for _, size := range []struct {
		name   string
		values int
	}{{"1MB", 1 << 18}, {"8MB", 1 << 21}} {
		params := make([]float32, size.values)
		rng := rand.New(rand.NewPCG(7, uint64(size.values)))
		for i := range params {
			params[i] = float32(rng.NormFloat64())
		}
		b.Run(size.name, func(b *testing.B) {
			b.Run("gossipsub", func(b *testing.B) { f.bench(b, params, f.gossipsub()) })
			b.Run("raw", func(b *testing.B) { f.bench(b, params, f.raw()) })
		})
	}
}

// rawProtocol is the benchmark's own stream protocol: length-prefixed shards.
const rawProtocol = protocol.ID("/gradmesh-bench/raw/1.0.0")

// dissemVectorTimeout bounds one vector's dissemination, so a shard lost in
// gossipsub fails the benchmark instead of hanging it.
const dissemVectorTimeout = 30 * time.Second

var dissemRun = wire.RunID("dissemination-bench")

type dissemFixture struct {
	ctx       context.Context
	sender    *p2p.Host
	topic     *pubsub.Topic // the sender's ParamTopic
	receivers []*dissemReceiver
	arrivals  chan arrival
	round     uint64 // last round number used; each vector gets a new one
}

// arrival is a receiver's report that it holds a round's complete vector, or
// that it failed.
type arrival struct {
	rx    int
	round uint64
	err   error
}

type dissemReceiver struct {
	host *p2p.Host
	// One assembly per method: the gossipsub reader owns its own; raw stream
	// handlers share theirs under rawMu (consecutive streams may overlap for
	// the moment it takes the older one to close).
	gossip assembly
	rawMu  sync.Mutex
	raw    assembly
}

// assembly rebuilds one round's vector from its shards.
type assembly struct {
	round    uint64
	started  bool
	complete bool
	vec      []float32
	have     []bool
	got      int
}

// add stores s; it reports true when s completes its round's vector.
// Shards of an already completed round are ignored.
func (a *assembly) add(s *wire.Shard) (bool, error) {
	if !a.started || s.Round != a.round {
		a.round, a.started, a.complete, a.got = s.Round, true, false, 0
		if cap(a.vec) < int(s.Total) {
			a.vec = make([]float32, s.Total)
		}
		a.vec = a.vec[:s.Total]
		a.have = slices.Grow(a.have[:0], int(s.Count))[:s.Count]
		clear(a.have)
	}
	if a.complete {
		return false, nil
	}
	if int(s.Total) != len(a.vec) || int(s.Count) != len(a.have) {
		return false, fmt.Errorf("round %d: shard %d says %d values in %d shards, earlier ones %d in %d",
			s.Round, s.Index, s.Total, s.Count, len(a.vec), len(a.have))
	}
	if a.have[s.Index] {
		return false, fmt.Errorf("round %d: shard %d arrived twice", s.Round, s.Index)
	}
	a.have[s.Index] = true
	copy(a.vec[s.Offset:], s.Values)
	a.got += len(s.Values)
	a.complete = a.got == len(a.vec)
	return a.complete, nil
}

// newDissemFixture starts one sender and k receivers on 127.0.0.1/tcp,
// connects every pair, starts gradmesh's gossipsub on each, subscribes the
// receivers to the sender's parameter topic, installs the raw stream handler
// and waits until the sender's topic lists all k receivers.
func newDissemFixture(b *testing.B, k int) *dissemFixture {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := b.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	hosts := make([]*p2p.Host, k+1)
	b.Cleanup(func() {
		cancel()
		for _, h := range hosts {
			if h != nil {
				h.Close()
			}
		}
	})
	pubsubs := make([]*pubsub.PubSub, k+1)
	for i := range hosts {
		key, _, err := p2p.LoadOrCreateKey(filepath.Join(dir, fmt.Sprintf("peer%d.key", i)))
		if err != nil {
			b.Fatal(err)
		}
		hosts[i], err = p2p.New(ctx, p2p.Config{Key: key, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, MDNS: false, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if pubsubs[i], err = gossip.NewPubSub(ctx, hosts[i].Host, gossip.NewScorer()); err != nil {
			b.Fatal(err)
		}
	}
	for i, h := range hosts {
		for _, o := range hosts[i+1:] {
			if err := h.Connect(ctx, peer.AddrInfo{ID: o.ID(), Addrs: o.Host.Addrs()}); err != nil {
				b.Fatalf("connecting %s to %s: %v", h.ID(), o.ID(), err)
			}
		}
	}

	f := &dissemFixture{ctx: ctx, sender: hosts[0], arrivals: make(chan arrival, 4*k)}
	name := wire.ParamTopic(dissemRun, f.sender.ID())
	var err error
	if f.topic, err = pubsubs[0].Join(name); err != nil {
		b.Fatal(err)
	}
	for i, h := range hosts[1:] {
		rx := &dissemReceiver{host: h}
		f.receivers = append(f.receivers, rx)
		topic, err := pubsubs[i+1].Join(name)
		if err != nil {
			b.Fatal(err)
		}
		sub, err := topic.Subscribe(pubsub.WithBufferSize(1024)) // as gradmesh follows a neighbor
		if err != nil {
			b.Fatal(err)
		}
		go f.readGossip(ctx, i, rx, sub)
		h.SetStreamHandler(rawProtocol, func(s network.Stream) { f.readRaw(i, rx, s) })
	}

	deadline := time.Now().Add(10 * time.Second)
	for len(f.topic.ListPeers()) < k {
		if time.Now().After(deadline) {
			b.Fatalf("after 10s the sender's topic lists %d of %d subscribers", len(f.topic.ListPeers()), k)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return f
}

// readGossip decodes every message of the sender's topic at receiver i.
func (f *dissemFixture) readGossip(ctx context.Context, i int, rx *dissemReceiver, sub *pubsub.Subscription) {
	for {
		msg, err := sub.Next(ctx)
		if err != nil {
			return // cancelled: the benchmark is over
		}
		s, err := wire.DecodeShard(msg.Data)
		var done bool
		if err == nil {
			done, err = rx.gossip.add(s)
		}
		if err != nil {
			f.report(arrival{rx: i, err: fmt.Errorf("gossipsub: %w", err)})
		} else if done {
			f.report(arrival{rx: i, round: s.Round})
		}
	}
}

// report hands a to the benchmark, or drops it once the fixture is closed.
func (f *dissemFixture) report(a arrival) {
	select {
	case f.arrivals <- a:
	case <-f.ctx.Done():
	}
}

// readRaw reads length-prefixed shards from one stream at receiver i until a
// vector is complete.
func (f *dissemFixture) readRaw(i int, rx *dissemReceiver, s network.Stream) {
	defer s.Close()
	fail := func(err error) { f.report(arrival{rx: i, err: fmt.Errorf("raw stream: %w", err)}) }
	r := bufio.NewReaderSize(s, 64<<10)
	var frame []byte
	var prefix [4]byte
	for {
		if _, err := io.ReadFull(r, prefix[:]); err != nil {
			fail(fmt.Errorf("stream ended before the vector was complete: %w", err))
			return
		}
		n := binary.LittleEndian.Uint32(prefix[:])
		if n > wire.MaxMessageBytes {
			fail(fmt.Errorf("frame of %d bytes", n))
			return
		}
		frame = slices.Grow(frame[:0], int(n))[:n]
		if _, err := io.ReadFull(r, frame); err != nil {
			fail(err)
			return
		}
		shard, err := wire.DecodeShard(frame)
		if err != nil {
			fail(err)
			return
		}
		rx.rawMu.Lock()
		done, err := rx.raw.add(shard)
		rx.rawMu.Unlock()
		if err != nil {
			fail(err)
			return
		}
		if done {
			f.report(arrival{rx: i, round: shard.Round})
			return
		}
	}
}

// method is one way of disseminating a vector: encode builds what send
// transmits (outside the timer); send returns once everything is written;
// result is where receiver rx rebuilds the vector, locked for reading.
type method struct {
	encode func(shards []wire.Shard) ([][]byte, error)
	send   func(ctx context.Context, bufs [][]byte) error
	result func(rx *dissemReceiver) (vec []float32, unlock func())
}

// gossipsub publishes each shard on the sender's topic, in a buffer of its
// own (gossipsub keeps it), as gradmesh's Peer.publish does.
func (f *dissemFixture) gossipsub() method {
	return method{
		encode: func(shards []wire.Shard) ([][]byte, error) {
			bufs := make([][]byte, len(shards))
			for i := range shards {
				var err error
				if bufs[i], err = wire.AppendShard(nil, &shards[i]); err != nil {
					return nil, err
				}
			}
			return bufs, nil
		},
		send: func(ctx context.Context, bufs [][]byte) error {
			for _, buf := range bufs {
				if err := f.topic.Publish(ctx, buf); err != nil {
					return err
				}
			}
			return nil
		},
		// The reader goroutine reported completion after its last write.
		result: func(rx *dissemReceiver) ([]float32, func()) { return rx.gossip.vec, func() {} },
	}
}

// raw opens a stream to every receiver at once and writes the encoded
// shards, each behind its length (4 bytes, little-endian), then closes it.
func (f *dissemFixture) raw() method {
	return method{
		encode: func(shards []wire.Shard) ([][]byte, error) {
			frames := make([][]byte, len(shards))
			for i := range shards {
				buf, err := wire.AppendShard(make([]byte, 4, 4+wire.HeaderSize+4*len(shards[i].Values)), &shards[i])
				if err != nil {
					return nil, err
				}
				binary.LittleEndian.PutUint32(buf, uint32(len(buf)-4))
				frames[i] = buf
			}
			return frames, nil
		},
		send: func(ctx context.Context, frames [][]byte) error {
			errs := make([]error, len(f.receivers))
			var wg sync.WaitGroup
			for i, rx := range f.receivers {
				wg.Go(func() {
					s, err := f.sender.NewStream(ctx, rx.host.ID(), rawProtocol)
					if err != nil {
						errs[i] = err
						return
					}
					for _, fr := range frames {
						if _, err := s.Write(fr); err != nil {
							s.Reset()
							errs[i] = err
							return
						}
					}
					errs[i] = s.Close()
				})
			}
			wg.Wait()
			return errors.Join(errs...)
		},
		result: func(rx *dissemReceiver) ([]float32, func()) {
			rx.rawMu.Lock()
			return rx.raw.vec, rx.rawMu.Unlock
		},
	}
}

// bench sends b.N vectors of params with m, each after the previous one
// reached every receiver, checks what the receivers rebuilt and reports the
// metrics.
func (f *dissemFixture) bench(b *testing.B, params []float32, m method) {
	k := len(f.receivers)
	for _, rx := range f.receivers {
		rx.host.Bandwidth.Reset()
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		f.round++
		tmpl := wire.Shard{RunID: dissemRun, Model: wire.ModelFingerprint("bench", len(params)), Round: f.round,
			Degree: uint16(k), DataWeight: 1, Encoding: wire.EncodingFloat32}
		bufs, err := m.encode(wire.Split(tmpl, params, wire.ShardValues(wire.Float32, 256<<10)))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(f.ctx, dissemVectorTimeout)
		sendErr := make(chan error, 1)
		b.StartTimer()
		go func() { sendErr <- m.send(ctx, bufs) }()
		for got, sent := 0, false; got < k || !sent; {
			select {
			case err := <-sendErr:
				if err != nil {
					cancel()
					b.Fatalf("round %d: sending: %v", f.round, err)
				}
				sent = true
			case a := <-f.arrivals:
				if a.err != nil {
					cancel()
					b.Fatalf("round %d: receiver %d: %v", f.round, a.rx, a.err)
				}
				if a.round != f.round {
					cancel()
					b.Fatalf("round %d: receiver %d completed round %d", f.round, a.rx, a.round)
				}
				got++
			case <-ctx.Done():
				cancel()
				b.Fatalf("round %d: %d of %d receivers complete after %v", f.round, got, k, dissemVectorTimeout)
			}
		}
		cancel()
	}
	b.StopTimer()
	elapsed := b.Elapsed()

	for i, rx := range f.receivers {
		vec, unlock := m.result(rx)
		ok := slices.Equal(vec, params)
		unlock()
		if !ok {
			b.Fatalf("receiver %d: reassembled vector differs from the one sent", i)
		}
	}

	waitBandwidthSweep(b)
	var in int64
	for _, rx := range f.receivers {
		for _, st := range rx.host.Bandwidth.GetBandwidthByProtocol() {
			in += st.TotalIn
		}
	}
	n := float64(b.N)
	b.ReportMetric(elapsed.Seconds()*1e3/n, "ms/vector")
	b.ReportMetric(float64(4*len(params)*k)*n/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(in)/n, "wire-bytes/vector")
}

// waitBandwidthSweep returns once the bandwidth meters have been swept after
// the call: libp2p's meters publish their totals only on the next sweep of
// go-flow-metrics (every second), and sweeps cover every meter at once, so a
// fresh sentinel meter showing its byte means the hosts' totals are current.
func waitBandwidthSweep(b testing.TB) {
	b.Helper()
	sentinel := metrics.NewBandwidthCounter()
	sentinel.LogRecvMessage(1)
	deadline := time.Now().Add(5 * time.Second)
	for sentinel.GetBandwidthTotals().TotalIn == 0 {
		if time.Now().After(deadline) {
			b.Fatal("bandwidth meters not swept within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
