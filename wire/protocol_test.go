package wire

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/topology"
)

// protocolDoc reads docs/PROTOCOL.md.
func protocolDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "PROTOCOL.md"))
	if err != nil {
		t.Fatalf("reading the protocol document: %v", err)
	}
	return string(b)
}

// hexBlocks returns the bytes of each ```hex fenced block of the document,
// in order.
func hexBlocks(t *testing.T, doc string) [][]byte {
	t.Helper()
	var out [][]byte
	in := false
	sc := bufio.NewScanner(strings.NewReader(doc))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case !in && line == "```hex":
			in = true
			out = append(out, nil)
		case in && line == "```":
			in = false
		case in:
			for _, field := range strings.Fields(line) {
				b, err := hex.DecodeString(field)
				if err != nil || len(b) != 1 {
					t.Fatalf("hex block: %q is not one hex byte", field)
				}
				out[len(out)-1] = append(out[len(out)-1], b[0])
			}
		}
	}
	if len(out) != 2 || in {
		t.Fatalf("want two closed ```hex blocks in PROTOCOL.md (a shard, a heartbeat), found %d (open: %v)", len(out), in)
	}
	return out
}

// TestProtocolDocument decodes the worked shard example of
// docs/PROTOCOL.md and checks every field, and the identifiers and sizes the
// document states, against the code.
func TestProtocolDocument(t *testing.T) {
	doc := protocolDoc(t)
	b := hexBlocks(t, doc)[0]
	if len(b) != 92 {
		t.Fatalf("worked example is %d bytes, the document says 92", len(b))
	}
	s, err := DecodeShard(b)
	if err != nil {
		t.Fatalf("the worked example does not decode: %v", err)
	}
	run, model := RunID("demo"), ModelFingerprint("mlp:64-10-10", 760)
	checks := []struct {
		field     string
		got, want any
	}{
		{"run id", hex.EncodeToString(s.RunID[:]), "9e8c11493546427b21ae34d683b7a749"},
		{"run id of demo", s.RunID, run},
		{"model", hex.EncodeToString(s.Model[:]), "4fd7e9be245781ec04b4eda9bf1feb17"},
		{"model of mlp:64-10-10/760", s.Model, model},
		{"round", s.Round, uint64(7)},
		{"index", s.Index, uint32(1)},
		{"count", s.Count, uint32(3)},
		{"offset", s.Offset, uint32(4)},
		{"total", s.Total, uint32(760)},
		{"degree", s.Degree, uint16(4)},
		{"data weight bits", math.Float32bits(s.DataWeight), uint32(0x3f800000)},
		{"encoding", s.Encoding, EncodingFloat32},
		{"values", slices.Equal(s.Values, []float32{0.5, -1.25, 3.0}), true},
		{"version byte", b[offVersion], uint8(WireVersion)},
		{"payload length", binary.LittleEndian.Uint32(b[offPayloadLen:]), uint32(12)},
		{"CRC-32C", binary.LittleEndian.Uint32(b[offCRC:]), uint32(0xa6bf446f)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, the document says %v", c.field, c.got, c.want)
		}
	}
	want := Shard{RunID: run, Model: model, Round: 7, Index: 1, Count: 3, Offset: 4, Total: 760, Degree: 4,
		DataWeight: 1, Encoding: EncodingFloat32, Values: []float32{0.5, -1.25, 3.0}}
	if enc := mustEncode(t, &want); !slices.Equal(enc, b) {
		t.Errorf("encoding the stated fields gives\n%x\nnot the document's\n%x", enc, b)
	}
	if err := (Expect{RunID: run, Model: model, Total: 760, Window: 0}).Check(s, 7); err != nil {
		t.Errorf("a receiver of run demo, model mlp:64-10-10/760 at round 7 rejects the example: %v", err)
	}
	if got := crc32.Checksum([]byte("123456789"), crcTable); got != 0xe3069283 {
		t.Errorf("CRC-32C check value %08x, the document says e3069283", got)
	}
	ns := sha256.Sum256([]byte("demo"))
	for _, stated := range []string{
		"a6bf446f", "0xE3069283", "gradmesh/run/" + hex.EncodeToString(ns[:])[:32],
		ControlTopic(run),
	} {
		if !strings.Contains(doc, stated) {
			t.Errorf("the document no longer states %s", stated)
		}
	}
}

// The document keeps its Topics section with the names the runtime uses,
// and the sizes it states match the code.
func TestProtocolTopicsAndSizes(t *testing.T) {
	doc := protocolDoc(t)
	for _, want := range []string{
		"## Topics",
		"`/gradmesh/v5/<runhex>/control`",
		"`/gradmesh/v1/<runhex>/long/<peer ID>`",
		"SHA-256(`\"gradmesh/neighbors/\" + run name`)",
		"MaxDegree = 2 · Degree,\nAsyncRTT = 100 ms, UplinkBudget = 100 ms",
		"4n + 80 · ⌈n / 65,516⌉",
		"`/gradmesh/v1/<runhex>/params/<peer ID>`",
		"`/gradmesh/kad/1.0.0`",
		"| 76 | 4 | u32 | CRC-32C |",
		"1,044,480",
		"65,516 values, 262,144 bytes",
		"1 ≤ n ≤ 261,100",
		"| 4 | 1 | u8 | version | must be 5 |",
		"| 112 | 4 | u32 | uplink rate, kbit/s (0: not stated) | — |",
		"| 50 | 1 | u8 | k: number of proposals | ≤ 32 |",
		"**2,424 bytes** at most",
		"121 bytes at least",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("PROTOCOL.md lacks %q", want)
		}
	}
	if HeaderSize != 80 || MaxShardBytes != 1_044_480 || ShardValues(Float32, 256<<10) != 65_516 || maxShardValues != 261_100 ||
		HeartbeatVersion != 5 || MaxProposals != 32 || MinHeartbeatBytes != 121 || MaxHeartbeatBytes != 2_424 ||
		MaxDeviceNameBytes != 64 || MaxHeartbeatDegree != 1024 || ControlTopic(RunID("demo")) != "/gradmesh/v5/9e8c11493546427b21ae34d683b7a749/control" ||
		VectorBytes(Float32, 65_517, 256<<10) != 4*65_517+2*80 {
		t.Error("the sizes stated in PROTOCOL.md no longer match the code")
	}
	seed := sha256.Sum256([]byte("gradmesh/neighbors/demo"))
	if RunSeed("demo") != binary.LittleEndian.Uint64(seed[:8]) {
		t.Error("RunSeed is not the first 8 bytes, little-endian, of SHA-256(\"gradmesh/neighbors/\" + run)")
	}
	defaults := topology.SelectConfig{}.WithDefaults()
	if defaults.MaxDegree != 2*defaults.Degree || defaults.AsyncRTT != 100*time.Millisecond || defaults.Policy != topology.PolicyLatencyLong ||
		defaults.LongPeriod != 2 || defaults.Shortlist != 8 || defaults.Hysteresis != 0.2 || defaults.RefusalMemory != 4 ||
		defaults.UplinkBudget != 100*time.Millisecond {
		t.Errorf("the neighbor-selection defaults PROTOCOL.md states no longer match the code: %+v", defaults)
	}
}

// TestProtocolHeartbeatExample decodes the worked heartbeat example of
// docs/PROTOCOL.md, checks every field it states, re-encodes the stated
// fields to the same bytes, and checks that the validator's author rule
// refuses it from a peer it proposes.
func TestProtocolHeartbeatExample(t *testing.T) {
	doc := protocolDoc(t)
	b := hexBlocks(t, doc)[1]
	if len(b) != 211 {
		t.Fatalf("worked heartbeat is %d bytes, the document says 211", len(b))
	}
	run, model := RunID("demo"), ModelFingerprint("mlp:64-10-10", 760)
	hb, err := UnmarshalHeartbeat(b, run, model)
	if err != nil {
		t.Fatalf("the worked heartbeat does not decode: %v", err)
	}
	near, long := "12D3KooWCtgLB35RpjwhC4Hwgj2ZbSsN7WRMiDdBQg9mExHX659m", "12D3KooWKvuZ9oxXQZr9uMQ6LJwabgVHLTakJjkMSxiby5Pdpowk"
	want := Heartbeat{RunID: run, Model: model, Round: 7, Degree: 3, DataWeight: 1, SamplesPerSec: 1500, UplinkKbps: 100_000,
		Device: Device{Name: "cpu"},
		Coord:  WireCoord{Vec: [CoordDims]float32{0.0078125, -0.001953125}, Height: 0.0009765625, Error: 0.25}}
	for _, pr := range []struct {
		text string
		long bool
		rtt  time.Duration
	}{{near, false, 1500 * time.Microsecond}, {long, true, 180 * time.Millisecond}} {
		id, err := peer.Decode(pr.text)
		if err != nil {
			t.Fatalf("the document's peer ID %s: %v", pr.text, err)
		}
		want.Proposals = append(want.Proposals, Proposal{ID: id, Long: pr.long, Slow: pr.long, RTT: pr.rtt})
	}
	if !reflect.DeepEqual(*hb, want) {
		t.Errorf("the worked heartbeat decodes to\n%+v\nthe document says\n%+v", *hb, want)
	}
	if enc, err := want.Marshal(); err != nil || !slices.Equal(enc, b) {
		t.Errorf("encoding the stated fields gives\n%x (%v)\nnot the document's\n%x", enc, err, b)
	}
	if got := binary.LittleEndian.Uint32(b[len(b)-4:]); got != 0xc510d1f4 {
		t.Errorf("CRC-32C %#08x, the document says 0xc510d1f4", got)
	}
	if err := hb.CheckAuthor(want.Proposals[1].ID); err == nil {
		t.Error("the example is accepted from a peer it proposes")
	}
	for _, stated := range []string{"0xc510d1f4", near, long, "(211 bytes)"} {
		if !strings.Contains(doc, stated) {
			t.Errorf("the document no longer states %s", stated)
		}
	}
}
