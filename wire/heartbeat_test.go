package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/internal/testpeer"
)

func exampleHeartbeat(t testing.TB) *Heartbeat {
	return &Heartbeat{RunID: RunID("hb-test"), Model: ModelFingerprint("mlp:8", 90), Round: 1234, Degree: 3,
		DataWeight: 0.5, SamplesPerSec: 2048, UplinkKbps: 25_000, Device: Device{Name: "NVIDIA H200", MemoryBytes: 141 << 30},
		Coord: WireCoord{Vec: [CoordDims]float32{0.001, -0.002, 0.0005, 0, 0, 0, 0, -0.0001}, Height: 0.0002, Adjustment: -0.00001, Error: 0.35},
		Proposals: []Proposal{{ID: testpeer.ID(t, 1), RTT: 1500 * time.Microsecond}, {ID: testpeer.ID(t, 2)},
			{ID: testpeer.ID(t, 3), Long: true, Slow: true, RTT: 180 * time.Millisecond}, {ID: testpeer.ID(t, 4), Slow: true, RTT: 120 * time.Millisecond},
			{ID: testpeer.ID(t, 5), Long: true, RTT: 60 * time.Millisecond}}}
}

func mustMarshal(t testing.TB, hb *Heartbeat) []byte {
	t.Helper()
	b, err := hb.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}

// resealHeartbeat fixes the length field and CRC of an edited heartbeat, so
// that the check under test, not the checksum, catches the edit.
func resealHeartbeat(b []byte) []byte {
	if len(b) < hbLength+2 || len(b) < 4 {
		return b
	}
	binary.LittleEndian.PutUint16(b[hbLength:], uint16(len(b)))
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crcTable))
	return b
}

func TestHeartbeatRoundTrip(t *testing.T) {
	bare := exampleHeartbeat(t)
	bare.Proposals, bare.Device = nil, Device{Name: "cpu"}
	full := exampleHeartbeat(t)
	full.Proposals = nil
	for i := range MaxProposals {
		full.Proposals = append(full.Proposals, Proposal{ID: testpeer.ID(t, uint64(100+i)), Long: i%2 == 0, Slow: i%3 == 1, RTT: MaxProposalRTT})
	}
	full.Device.Name = strings.Repeat("é", MaxDeviceNameBytes/2)
	full.Round, full.Degree, full.Device.MemoryBytes, full.UplinkKbps = math.MaxUint64, MaxHeartbeatDegree, MaxDeviceMemory, math.MaxUint32
	hashed := exampleHeartbeat(t) // RSA keys are too long to inline: their peer IDs are SHA-256 multihashes
	hashed.Device.Name = "cpu"
	hashed.Proposals = []Proposal{{ID: peer.ID(append([]byte{0x12, 0x20}, bytes.Repeat([]byte{0xab}, 32)...))}}
	for name, tc := range map[string]struct {
		hb   *Heartbeat
		size int
	}{
		"no proposals, cpu":   {bare, heartbeatFixed + 3 + 4},
		"five proposals":      {exampleHeartbeat(t), heartbeatFixed + len("NVIDIA H200") + 5*(proposalHeader+38) + 4},
		"every field at most": {full, heartbeatFixed + MaxDeviceNameBytes + MaxProposals*(proposalHeader+38) + 4},
		"SHA-256 peer ID":     {hashed, heartbeatFixed + 3 + proposalHeader + 34 + 4},
	} {
		t.Run(name, func(t *testing.T) {
			b := mustMarshal(t, tc.hb)
			if len(b) != tc.size {
				t.Errorf("encoded %d bytes, want %d", len(b), tc.size)
			}
			got, err := UnmarshalHeartbeat(b, tc.hb.RunID, tc.hb.Model)
			if err != nil {
				t.Fatalf("UnmarshalHeartbeat: %v", err)
			}
			if !reflect.DeepEqual(got, tc.hb) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, tc.hb)
			}
			if again := mustMarshal(t, got); !bytes.Equal(again, b) {
				t.Fatal("re-encoding the decoded heartbeat changed its bytes")
			}
		})
	}
	if MinHeartbeatBytes != 121 || MaxHeartbeatBytes != 2424 {
		t.Errorf("heartbeat bounds %d..%d bytes, docs/PROTOCOL.md says 121..2424", MinHeartbeatBytes, MaxHeartbeatBytes)
	}
}

// Marshal refuses what a receiver would reject, and says which field.
func TestHeartbeatMarshalRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Heartbeat)
		want error
		says string
	}{
		{"zero weight", func(hb *Heartbeat) { hb.DataWeight = 0 }, ErrBadWeight, "data weight"},
		{"NaN throughput", func(hb *Heartbeat) { hb.SamplesPerSec = float32(math.NaN()) }, ErrNonFinite, "throughput"},
		{"degree", func(hb *Heartbeat) { hb.Degree = MaxHeartbeatDegree + 1 }, ErrMalformed, "degree"},
		{"memory", func(hb *Heartbeat) { hb.Device.MemoryBytes = MaxDeviceMemory + 1 }, ErrMalformed, "memory"},
		{"no device name", func(hb *Heartbeat) { hb.Device.Name = "" }, ErrMalformed, "device name"},
		{"long device name", func(hb *Heartbeat) { hb.Device.Name = strings.Repeat("x", MaxDeviceNameBytes+1) }, ErrMalformed, "device name"},
		{"escape in device name", func(hb *Heartbeat) { hb.Device.Name = "gpu\x1b[2J" }, ErrMalformed, "unprintable"},
		{"invalid UTF-8", func(hb *Heartbeat) { hb.Device.Name = "gpu\xff" }, ErrMalformed, "UTF-8"},
		{"too many proposals", func(hb *Heartbeat) {
			for i := range MaxProposals {
				hb.Proposals = append(hb.Proposals, Proposal{ID: testpeer.ID(t, uint64(200+i))})
			}
		}, ErrMalformed, "proposes"},
		{"duplicate proposal", func(hb *Heartbeat) { hb.Proposals[2].ID = hb.Proposals[0].ID }, ErrMalformed, "twice"},
		{"empty peer ID", func(hb *Heartbeat) { hb.Proposals[1].ID = "" }, ErrMalformed, "proposal 1"},
		{"not a peer ID", func(hb *Heartbeat) { hb.Proposals[1].ID = "not a multihash" }, ErrMalformed, "not a peer ID"},
		{"RTT over the bound", func(hb *Heartbeat) { hb.Proposals[2].RTT = MaxProposalRTT + time.Microsecond }, ErrMalformed, "RTT"},
		{"negative RTT", func(hb *Heartbeat) { hb.Proposals[0].RTT = -time.Millisecond }, ErrMalformed, "RTT"},
		{"NaN coordinate", func(hb *Heartbeat) { hb.Coord.Vec[5] = float32(math.NaN()) }, ErrBadCoordinate, "component 5"},
		{"far coordinate", func(hb *Heartbeat) { hb.Coord.Vec[0] = 11 }, ErrBadCoordinate, "component 0"},
		{"long coordinate vector", func(hb *Heartbeat) { hb.Coord.Vec = [CoordDims]float32{6, 6, 6} }, ErrBadCoordinate, "length"},
		{"negative height", func(hb *Heartbeat) { hb.Coord.Height = -0.001 }, ErrBadCoordinate, "height"},
		{"infinite adjustment", func(hb *Heartbeat) { hb.Coord.Adjustment = float32(math.Inf(-1)) }, ErrBadCoordinate, "adjustment"},
		{"negative error", func(hb *Heartbeat) { hb.Coord.Error = -1 }, ErrBadCoordinate, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hb := exampleHeartbeat(t)
			tt.edit(hb)
			b, err := hb.Marshal()
			if !errors.Is(err, tt.want) || b != nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("Marshal = %d bytes, %v; want %v saying %q", len(b), err, tt.want, tt.says)
			}
		})
	}
}

func TestUnmarshalHeartbeatRejects(t *testing.T) {
	le := binary.LittleEndian
	hb := exampleHeartbeat(t)
	run, model := hb.RunID, hb.Model
	valid := mustMarshal(t, hb)
	name := heartbeatFixed // offset of the device name
	prop := name + len(hb.Device.Name)
	// encodeWith marshals a heartbeat that Marshal would refuse: encode a
	// valid one, then overwrite a fixed-offset field and reseal.
	withField := func(off int, put func([]byte)) func([]byte) []byte {
		return func(b []byte) []byte { put(b[off:]); return resealHeartbeat(b) }
	}
	f32 := func(v float32) func([]byte) { return func(b []byte) { le.PutUint32(b, math.Float32bits(v)) } }
	tests := []struct {
		name string
		edit func([]byte) []byte // edits a copy of valid
		want error
	}{
		{"empty", func([]byte) []byte { return nil }, ErrMalformed},
		{"one byte short of the minimum", func(b []byte) []byte { return b[:MinHeartbeatBytes-1] }, ErrMalformed},
		{"version 1, 64 bytes", func(b []byte) []byte { b = b[:64]; b[hbVersion] = 1; return b }, ErrMalformed},
		{"oversize", func([]byte) []byte { return make([]byte, MaxHeartbeatBytes+1) }, ErrOversize},
		{"bad magic", withField(hbMagic, func(b []byte) { b[3] = 'S' }), ErrMalformed},
		{"version 1", withField(hbVersion, func(b []byte) { b[0] = 1 }), ErrMalformed},
		{"version 2", withField(hbVersion, func(b []byte) { b[0] = 2 }), ErrMalformed},
		{"version 3", withField(hbVersion, func(b []byte) { b[0] = 3 }), ErrMalformed},
		{"version 4", withField(hbVersion, func(b []byte) { b[0] = 4 }), ErrMalformed},
		{"version 6", withField(hbVersion, func(b []byte) { b[0] = 6 }), ErrMalformed},
		{"reserved flags", withField(hbFlags, func(b []byte) { b[0] = 0x40 }), ErrMalformed},
		{"length field", func(b []byte) []byte { b = resealHeartbeat(b); le.PutUint16(b[hbLength:], uint16(len(b)-1)); return b }, ErrMalformed},
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }, ErrMalformed},
		{"checksum", func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }, ErrChecksum},
		{"round changed", func(b []byte) []byte { b[hbRound] ^= 1; return b }, ErrChecksum},
		{"proposal ID changed", func(b []byte) []byte { b[prop+10] ^= 1; return b }, ErrChecksum},
		{"33 proposals claimed", withField(hbProposals, func(b []byte) { b[0] = MaxProposals + 1 }), ErrMalformed},
		{"one proposal more than present", withField(hbProposals, func(b []byte) { b[0]++ }), ErrMalformed},
		{"one proposal fewer than present", withField(hbProposals, func(b []byte) { b[0]-- }), ErrMalformed},
		{"device name past the end", withField(hbNameLen, func(b []byte) { b[0] = 255 }), ErrMalformed},
		{"no device name", func(b []byte) []byte {
			b = append(b[:name:name], b[prop:]...)
			b[hbNameLen] = 0
			return resealHeartbeat(b)
		}, ErrMalformed},
		{"device name with a control character", withField(name, func(b []byte) { b[0] = '\n' }), ErrMalformed},
		{"device name not UTF-8", withField(name, func(b []byte) { b[0] = 0xc3 }), ErrMalformed},
		{"reserved proposal flag", withField(prop, func(b []byte) { b[0] = 4 }), ErrMalformed},
		{"peer ID past the end", withField(prop+1, func(b []byte) { b[0] = 200 }), ErrMalformed},
		{"RTT over 10 s", withField(prop+2, func(b []byte) { le.PutUint32(b, 10_000_001) }), ErrMalformed},
		{"peer ID not a multihash", withField(prop+6, func(b []byte) { b[0] = 0x7f }), ErrMalformed},
		{"peer ID of an unknown hash", withField(prop+6, func(b []byte) { b[0], b[1] = 0x13, 0x24 }), ErrMalformed},
		{"inline key that does not parse", withField(prop+8, func(b []byte) { b[0] = 0xff }), ErrMalformed},
		{"duplicate proposal", func(b []byte) []byte {
			copy(b[prop+44+6:prop+88], b[prop+6:prop+44])
			return resealHeartbeat(b)
		}, ErrMalformed},
		{"other run", withField(hbRun, func(b []byte) { b[0] ^= 1 }), ErrWrongRun},
		{"other model", withField(hbModel+15, func(b []byte) { b[0] ^= 1 }), ErrWrongModel},
		{"zero weight", withField(hbWeight, f32(0)), ErrBadWeight},
		{"weight over 1e6", withField(hbWeight, f32(2e6)), ErrBadWeight},
		{"NaN weight", withField(hbWeight, f32(float32(math.NaN()))), ErrBadWeight},
		{"negative throughput", withField(hbSamples, f32(-1)), ErrNonFinite},
		{"infinite throughput", withField(hbSamples, f32(float32(math.Inf(1)))), ErrNonFinite},
		{"degree over the bound", withField(hbDegree, func(b []byte) { le.PutUint16(b, MaxHeartbeatDegree+1) }), ErrMalformed},
		{"memory over the bound", withField(hbMemory, func(b []byte) { le.PutUint64(b, math.MaxUint64) }), ErrMalformed},
		{"NaN component", withField(hbCoord+12, func(b []byte) { le.PutUint32(b, 0x7fc00000) }), ErrBadCoordinate},
		{"component of 20 s", withField(hbCoord, f32(20)), ErrBadCoordinate},
		{"negative height", withField(hbHeight, f32(-1e-3)), ErrBadCoordinate},
		{"adjustment of -11 s", withField(hbAdjustment, f32(-11)), ErrBadCoordinate},
		{"infinite error", withField(hbError, f32(float32(math.Inf(1)))), ErrBadCoordinate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UnmarshalHeartbeat(tt.edit(bytes.Clone(valid)), run, model)
			if !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("UnmarshalHeartbeat = %v, %v; want nil, %v", got, err, tt.want)
			}
		})
	}
}

// Every proper prefix of a valid heartbeat, and every single-bit flip of
// it, is rejected.
func TestUnmarshalHeartbeatTruncatedAndFlipped(t *testing.T) {
	hb := exampleHeartbeat(t)
	b := mustMarshal(t, hb)
	for n := range len(b) {
		if _, err := UnmarshalHeartbeat(b[:n], hb.RunID, hb.Model); err == nil {
			t.Fatalf("a heartbeat cut to %d of %d bytes was accepted", n, len(b))
		}
	}
	for i := range b {
		for bit := range 8 {
			c := bytes.Clone(b)
			c[i] ^= 1 << bit
			if _, err := UnmarshalHeartbeat(c, hb.RunID, hb.Model); err == nil {
				t.Fatalf("flipping bit %d of byte %d went unnoticed", bit, i)
			}
		}
	}
}

func TestHeartbeatCheckAuthor(t *testing.T) {
	hb := exampleHeartbeat(t)
	if err := hb.CheckAuthor(testpeer.ID(t, 9)); err != nil {
		t.Errorf("a heartbeat proposing others: %v", err)
	}
	if err := hb.CheckAuthor(hb.Proposals[1].ID); !errors.Is(err, ErrMalformed) {
		t.Errorf("a heartbeat proposing its own author: %v, want ErrMalformed", err)
	}
}

// FuzzUnmarshalHeartbeat: decoding never panics, and what it accepts
// re-encodes to the same bytes. Each input is tried as given and with its
// length and CRC fixed, so the fuzzer reaches the checks behind them.
func FuzzUnmarshalHeartbeat(f *testing.F) {
	hb := exampleHeartbeat(f)
	f.Add(mustMarshal(f, hb))
	hb.Proposals, hb.Device.Name = nil, "cpu"
	f.Add(mustMarshal(f, hb))
	f.Add([]byte("GMHB"))
	f.Add([]byte{})
	run, model := hb.RunID, hb.Model
	check := func(t *testing.T, b []byte) {
		got, err := UnmarshalHeartbeat(b, run, model)
		if err != nil {
			if got != nil {
				t.Fatal("UnmarshalHeartbeat returned a heartbeat and an error")
			}
			return
		}
		again, err := got.Marshal()
		if err != nil {
			t.Fatalf("a decoded heartbeat does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding changed the bytes:\n in  %x\n out %x", b, again)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check(t, b)
		check(t, resealHeartbeat(bytes.Clone(b)))
	})
}

// A proposal's RTT travels in whole microseconds: every member must rank
// inbound proposals from the same numbers, the proposer included.
func TestHeartbeatProposalRTTInMicroseconds(t *testing.T) {
	hb := exampleHeartbeat(t)
	hb.Proposals[0].RTT = 1500*time.Microsecond + 999*time.Nanosecond
	got, err := UnmarshalHeartbeat(mustMarshal(t, hb), hb.RunID, hb.Model)
	if err != nil {
		t.Fatal(err)
	}
	if got.Proposals[0].RTT != 1500*time.Microsecond || got.Proposals[2].RTT != 180*time.Millisecond {
		t.Errorf("decoded RTTs %v and %v, want 1.5ms (truncated) and 180ms", got.Proposals[0].RTT, got.Proposals[2].RTT)
	}
}
