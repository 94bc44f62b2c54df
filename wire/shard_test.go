package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"testing"
)

// wireShard is a valid shard of n values: the middle one of a vector cut in
// shards of n (the index-th of count).
func wireShard(n int, index, count uint32) *Shard {
	s := &Shard{
		RunID: RunID("wire-test"), Model: ModelFingerprint("mlp:8-4", 40), Round: 12345,
		Index: index, Count: count, Offset: index * uint32(n), Total: count * uint32(n),
		Degree: 6, DataWeight: 0.75, Encoding: EncodingFloat32, Values: make([]float32, n),
	}
	for i := range s.Values {
		s.Values[i] = float32(i)*0.25 - 3
	}
	return s
}

func mustEncode(t testing.TB, s *Shard) []byte {
	t.Helper()
	b, err := AppendShard(nil, s)
	if err != nil {
		t.Fatalf("AppendShard: %v", err)
	}
	return b
}

// sameShard compares shards bit for bit (NaN weights and -0 included).
func sameShard(a, b *Shard) bool {
	if a.RunID != b.RunID || a.Model != b.Model || a.Round != b.Round || a.Index != b.Index ||
		a.Count != b.Count || a.Offset != b.Offset || a.Total != b.Total || a.Degree != b.Degree ||
		math.Float32bits(a.DataWeight) != math.Float32bits(b.DataWeight) || a.Encoding != b.Encoding ||
		len(a.Values) != len(b.Values) {
		return false
	}
	for i := range a.Values {
		if math.Float32bits(a.Values[i]) != math.Float32bits(b.Values[i]) {
			return false
		}
	}
	return true
}

// reseal recomputes the CRC of an encoded shard after a test edits it, so
// that the check under test, not the checksum, catches the edit.
func reseal(b []byte) []byte {
	if len(b) >= HeaderSize {
		binary.LittleEndian.PutUint32(b[offCRC:], shardChecksum(b))
	}
	return b
}

func TestShardRoundTripExtremes(t *testing.T) {
	extreme := wireShard(3, 0, 1)
	extreme.Round, extreme.Degree = math.MaxUint64, math.MaxUint16
	extreme.Values = []float32{float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -math.MaxFloat32}
	extreme.DataWeight = float32(math.NaN()) // not DecodeShard's business: Expect.Check rejects it
	last := wireShard(10, 0, 1)
	last.Index, last.Count, last.Offset, last.Total, last.Values = 4, 5, 40, 47, last.Values[:7]
	tests := map[string]*Shard{
		"single value":        {Index: 0, Count: 1, Total: 1, Encoding: EncodingFloat32, Values: []float32{1}},
		"middle shard":        wireShard(100, 3, 7),
		"last shard, shorter": last,
		"extreme fields":      extreme,
		"largest shard":       wireShard(maxShardValues, 2, 3),
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			b := mustEncode(t, s)
			if want := HeaderSize + 4*len(s.Values); len(b) != want {
				t.Fatalf("encoded %d bytes, want %d", len(b), want)
			}
			got, err := DecodeShard(b)
			if err != nil {
				t.Fatalf("DecodeShard: %v", err)
			}
			if !sameShard(got, s) {
				t.Fatalf("decoded %+v, want %+v", got, s)
			}
			if again := mustEncode(t, got); !bytes.Equal(again, b) {
				t.Fatal("re-encoding the decoded shard changed its bytes")
			}
		})
	}
}

func TestAppendShardAppends(t *testing.T) {
	s := wireShard(5, 1, 2)
	prefix := []byte("prefix")
	b := mustEncode(t, s)
	got, err := AppendShard(bytes.Clone(prefix), s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(bytes.Clone(prefix), b...)) {
		t.Fatal("AppendShard did not append the encoding after dst")
	}
	// A failed append leaves dst as it was, even with spare capacity.
	dst := append(make([]byte, 0, 4096), prefix...)
	s.Values[2] = float32(math.Inf(1))
	out, err := AppendShard(dst, s)
	if !errors.Is(err, ErrNonFinite) || !bytes.Equal(out, prefix) {
		t.Fatalf("AppendShard of a shard with +Inf = %q, %v; want dst unchanged and ErrNonFinite", out, err)
	}
	// Reusing a dirty buffer writes the reserved fields as zero.
	dirty := bytes.Repeat([]byte{0xff}, 4096)[:0]
	s.Values[2] = 1
	out, err = AppendShard(dirty, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeShard(out); err != nil {
		t.Fatalf("shard encoded into a reused buffer does not decode: %v", err)
	}
}

func TestAppendShardRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Shard)
		want error
	}{
		{"encoding 0", func(s *Shard) { s.Encoding = 0 }, ErrMalformed},
		{"unknown encoding", func(s *Shard) { s.Encoding = 9 }, ErrMalformed},
		{"no values", func(s *Shard) { s.Values = nil }, ErrMalformed},
		{"over the budget", func(s *Shard) {
			s.Values = make([]float32, maxShardValues+1)
			s.Index, s.Count, s.Offset, s.Total = 0, 1, 0, uint32(len(s.Values))
		}, ErrOversize},
		{"count 0", func(s *Shard) { s.Count = 0 }, ErrShardRange},
		{"index = count", func(s *Shard) { s.Index = s.Count }, ErrShardRange},
		{"past the end", func(s *Shard) { s.Total = s.Offset + 3 }, ErrShardRange},
		{"more shards than values", func(s *Shard) { s.Count, s.Total = 16, 15 }, ErrShardRange},
		{"offset overflow", func(s *Shard) { s.Offset = math.MaxUint32 }, ErrShardRange},
		{"NaN value", func(s *Shard) { s.Values[1] = float32(math.NaN()) }, ErrNonFinite},
		{"-Inf value", func(s *Shard) { s.Values[4] = float32(math.Inf(-1)) }, ErrNonFinite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := wireShard(5, 1, 3)
			tt.edit(s)
			if _, err := AppendShard(nil, s); !errors.Is(err, tt.want) {
				t.Fatalf("AppendShard = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := AppendShard(nil, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("AppendShard(nil) = %v, want ErrMalformed", err)
	}
}

func TestDecodeShardRejects(t *testing.T) {
	le := binary.LittleEndian
	valid := mustEncode(t, wireShard(4, 1, 3))
	tests := []struct {
		name string
		edit func([]byte) []byte // edits a copy of valid
		want error
	}{
		{"empty", func(b []byte) []byte { return nil }, ErrMalformed},
		{"header only", func(b []byte) []byte { return b[:HeaderSize] }, ErrMalformed},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return reseal(b) }, ErrMalformed},
		{"version 0", func(b []byte) []byte { b[offVersion] = 0; return reseal(b) }, ErrMalformed},
		{"version 2", func(b []byte) []byte { b[offVersion] = 2; return reseal(b) }, ErrMalformed},
		{"encoding 0", func(b []byte) []byte { b[offEncoding] = 0; return reseal(b) }, ErrMalformed},
		{"encoding 2", func(b []byte) []byte { b[offEncoding] = 2; return reseal(b) }, ErrMalformed},
		{"flags set", func(b []byte) []byte { b[offFlags+1] = 0x80; return reseal(b) }, ErrMalformed},
		{"reserved set", func(b []byte) []byte { b[offReserved] = 1; return reseal(b) }, ErrMalformed},
		{"length field too big", func(b []byte) []byte { le.PutUint32(b[offPayloadLen:], 20); return reseal(b) }, ErrMalformed},
		{"length field too small", func(b []byte) []byte { le.PutUint32(b[offPayloadLen:], 12); return reseal(b) }, ErrMalformed},
		{"length field huge", func(b []byte) []byte { le.PutUint32(b[offPayloadLen:], math.MaxUint32); return reseal(b) }, ErrMalformed},
		{"payload not whole floats", func(b []byte) []byte {
			b = b[:len(b)-1]
			le.PutUint32(b[offPayloadLen:], uint32(len(b)-HeaderSize))
			return reseal(b)
		}, ErrMalformed},
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }, ErrMalformed},
		{"checksum field", func(b []byte) []byte { b[offCRC] ^= 1; return b }, ErrChecksum},
		{"run id changed", func(b []byte) []byte { b[offRun+3] ^= 0x10; return b }, ErrChecksum},
		{"payload changed", func(b []byte) []byte { b[len(b)-1] ^= 0x01; return b }, ErrChecksum},
		{"count 0", func(b []byte) []byte { le.PutUint32(b[offCount:], 0); return reseal(b) }, ErrShardRange},
		{"index = count", func(b []byte) []byte { le.PutUint32(b[offIndex:], 3); return reseal(b) }, ErrShardRange},
		{"index huge", func(b []byte) []byte { le.PutUint32(b[offIndex:], math.MaxUint32); return reseal(b) }, ErrShardRange},
		{"offset past total", func(b []byte) []byte { le.PutUint32(b[offOffset:], math.MaxUint32); return reseal(b) }, ErrShardRange},
		{"total too small", func(b []byte) []byte { le.PutUint32(b[offTotal:], 6); return reseal(b) }, ErrShardRange},
		{"more shards than values", func(b []byte) []byte { le.PutUint32(b[offCount:], 13); return reseal(b) }, ErrShardRange},
		{"NaN value", func(b []byte) []byte {
			le.PutUint32(b[HeaderSize+4:], math.Float32bits(float32(math.NaN())))
			return reseal(b)
		}, ErrNonFinite},
		{"quiet NaN with payload bits", func(b []byte) []byte { le.PutUint32(b[HeaderSize:], 0xffc00001); return reseal(b) }, ErrNonFinite},
		{"+Inf value", func(b []byte) []byte {
			le.PutUint32(b[len(b)-4:], math.Float32bits(float32(math.Inf(1))))
			return reseal(b)
		}, ErrNonFinite},
		{"-Inf value", func(b []byte) []byte {
			le.PutUint32(b[HeaderSize+8:], math.Float32bits(float32(math.Inf(-1))))
			return reseal(b)
		}, ErrNonFinite},
		{"oversize", func(b []byte) []byte { return make([]byte, MaxShardBytes+1) }, ErrOversize},
		{"oversize but well formed", func(b []byte) []byte {
			n := maxShardValues + 1
			b = append(b[:HeaderSize], make([]byte, 4*n)...)
			le.PutUint32(b[offIndex:], 0)
			le.PutUint32(b[offCount:], 1)
			le.PutUint32(b[offOffset:], 0)
			le.PutUint32(b[offTotal:], uint32(n))
			le.PutUint32(b[offPayloadLen:], uint32(4*n))
			return reseal(b)
		}, ErrOversize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := DecodeShard(tt.edit(bytes.Clone(valid)))
			if !errors.Is(err, tt.want) || s != nil {
				t.Fatalf("DecodeShard = %v, %v; want nil, %v", s, err, tt.want)
			}
		})
	}
}

// Every proper prefix of a valid message is rejected as malformed.
func TestDecodeShardTruncated(t *testing.T) {
	for _, s := range []*Shard{wireShard(1, 0, 1), wireShard(17, 2, 5)} {
		b := mustEncode(t, s)
		for n := range len(b) {
			if _, err := DecodeShard(b[:n]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeShard of %d of %d bytes = %v, want ErrMalformed", n, len(b), err)
			}
		}
	}
}

// Every single-bit flip is caught: by the structural checks where the flip
// hits magic, version, encoding, flags, reserved or payload length, and by
// the checksum everywhere else.
func TestDecodeShardBitFlips(t *testing.T) {
	b := mustEncode(t, wireShard(3, 1, 2))
	for i := range b {
		want := ErrChecksum
		if i < offRun || (i >= offReserved && i < offReserved+2) || (i >= offPayloadLen && i < offCRC) {
			want = ErrMalformed
		}
		for bit := range 8 {
			c := bytes.Clone(b)
			c[i] ^= 1 << bit
			if _, err := DecodeShard(c); !errors.Is(err, want) {
				t.Fatalf("flipping bit %d of byte %d: %v, want %v", bit, i, err, want)
			}
		}
	}
}

// A header claiming a huge vector or payload costs no more memory than the
// bytes present.
func TestDecodeShardAllocation(t *testing.T) {
	le := binary.LittleEndian
	hostile := mustEncode(t, wireShard(2, 0, 2))
	le.PutUint32(hostile[offCount:], math.MaxUint32)
	le.PutUint32(hostile[offTotal:], math.MaxUint32)
	le.PutUint32(hostile[offPayloadLen:], math.MaxUint32&^3)
	reseal(hostile)
	const runs = 100
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := DecodeShard(hostile); err == nil {
			t.Fatal("hostile header accepted")
		}
	}
	runtime.ReadMemStats(&after)
	if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 1024 {
		t.Fatalf("rejecting a hostile header allocated %d bytes per call", perRun)
	}
	valid := mustEncode(t, wireShard(1000, 1, 3))
	if allocs := testing.AllocsPerRun(runs, func() { _, _ = DecodeShard(valid) }); allocs > 2 {
		t.Fatalf("DecodeShard made %v allocations, want the shard and its values", allocs)
	}
}

func TestIdentifiers(t *testing.T) {
	run := sha256.Sum256([]byte("gradmesh/run/demo"))
	if RunID("demo") != [16]byte(run[:16]) {
		t.Error("RunID is not the first 16 bytes of SHA-256(\"gradmesh/run/\" + run)")
	}
	model := sha256.Sum256([]byte("gradmesh/model/mlp:64-10-10/760"))
	if ModelFingerprint("mlp:64-10-10", 760) != [16]byte(model[:16]) {
		t.Error("ModelFingerprint is not the first 16 bytes of SHA-256(\"gradmesh/model/\" + spec + \"/\" + params)")
	}
	if RunID("a") == RunID("b") || ModelFingerprint("mlp:8", 10) == ModelFingerprint("mlp:8", 11) {
		t.Error("different names give the same identifier")
	}
	if EncodingFloat32.String() != "float32" || Encoding(7).String() != "encoding(7)" {
		t.Error("Encoding.String")
	}
}

// FuzzShardPastChecksum is FuzzDecodeShard's companion: it also decodes
// each input with its CRC recomputed, so that the fuzzer reaches the checks
// behind the checksum, which random bytes almost never pass.
func FuzzShardPastChecksum(f *testing.F) {
	for _, s := range []*Shard{wireShard(1, 0, 1), wireShard(3, 1, 2), wireShard(8, 4, 9)} {
		f.Add(mustEncode(f, s))
	}
	last := wireShard(4, 0, 1)
	last.Index, last.Count, last.Offset, last.Total, last.Values = 2, 3, 10, 13, last.Values[:3]
	f.Add(mustEncode(f, last))
	short := mustEncode(f, wireShard(3, 0, 1)) // found by this fuzzer: one shard short of its vector
	binary.LittleEndian.PutUint32(short[offTotal:], 12)
	f.Add(reseal(short))
	f.Add([]byte("GMSH"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodeProperties(t, b)
		checkDecodeProperties(t, reseal(bytes.Clone(b)))
	})
}

// checkDecodeProperties: DecodeShard never panics, and what it accepts
// re-encodes to the same bytes and is accepted by an Assembler.
func checkDecodeProperties(t *testing.T, b []byte) {
	s, err := DecodeShard(b)
	if err != nil {
		if s != nil {
			t.Fatal("DecodeShard returned a shard and an error")
		}
		return
	}
	again, err := AppendShard(nil, s)
	if err != nil {
		t.Fatalf("a decoded shard does not encode: %v", err)
	}
	if !bytes.Equal(again, b) {
		t.Fatalf("re-encoding changed the bytes:\n in  %x\n out %x", b, again)
	}
	// What decodes also assembles: the geometry checks agree. (Take
	// allocates the whole vector, so only for modest totals.)
	if s.Total > 1<<16 {
		return
	}
	a := NewAssembler(int(s.Total), 1, 1)
	if complete, err := a.Add("fuzz", s); err != nil || complete != (s.Count == 1) {
		t.Fatalf("a fresh assembler takes a decoded shard %d of %d: complete %v, %v", s.Index, s.Count, complete, err)
	}
	tk, ok := a.Take("fuzz", s.Round)
	if !ok || tk.Shards != 1 || tk.Of != int(s.Count) || len(tk.Values) != int(s.Total) {
		t.Fatalf("Take = %d values, %d of %d, %v", len(tk.Values), tk.Shards, tk.Of, ok)
	}
}

func benchShard(b *testing.B) *Shard {
	n := ShardValues(Float32, 256<<10)
	s := wireShard(n, 1, 4)
	return s
}

func BenchmarkAppendShard256KiB(b *testing.B) {
	s := benchShard(b)
	buf := make([]byte, 0, HeaderSize+4*len(s.Values))
	b.SetBytes(int64(HeaderSize + 4*len(s.Values)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendShard(buf[:0], s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeShard256KiB(b *testing.B) {
	enc := mustEncode(b, benchShard(b))
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeShard(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// maxShardValues is how many float32 values fit in MaxShardBytes.
var maxShardValues = ShardValues(Float32, MaxShardBytes)
