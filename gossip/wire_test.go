package gossip

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func exampleShard() *Shard {
	return &Shard{RunID: RunID("demo"), Model: ModelFingerprint("mlp:64-10-10", 760), Round: 7, Index: 1, Count: 3,
		Offset: 4, Total: 760, Degree: 4, DataWeight: 1, Encoding: EncodingFloat32, Values: []float32{0.5, -1.25, 3}}
}

func encode(t testing.TB, s *Shard) []byte {
	t.Helper()
	b, err := AppendShard(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestShardRoundTrip(t *testing.T) {
	s := exampleShard()
	got, err := DecodeShard(encode(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if got.RunID != s.RunID || got.Model != s.Model || got.Round != 7 || got.Index != 1 || got.Count != 3 ||
		got.Offset != 4 || got.Total != 760 || got.Degree != 4 || got.DataWeight != 1 || !slices.Equal(got.Values, s.Values) {
		t.Fatalf("decoded %+v, want %+v", got, s)
	}
}

func TestSplitAndAssembleRebuildTheVector(t *testing.T) {
	params := make([]float32, 1000)
	for i := range params {
		params[i] = float32(i) * 0.5
	}
	tmpl := Shard{RunID: RunID("r"), Model: ModelFingerprint("m", 1000), Round: 3, DataWeight: 1, Encoding: EncodingFloat32}
	shards := Split(tmpl, params, 300) // 300, 300, 300, 100
	if len(shards) != 4 {
		t.Fatalf("%d shards, want 4", len(shards))
	}
	a := NewAssembler(1000, 2, 2)
	for i := range shards {
		decoded, err := DecodeShard(encode(t, &shards[i]))
		if err != nil {
			t.Fatal(err)
		}
		complete, err := a.Add("p", decoded)
		if err != nil || complete != (i == len(shards)-1) {
			t.Fatalf("shard %d: complete=%v err=%v", i, complete, err)
		}
		if complete, _ := a.Add("p", decoded); complete != (i == len(shards)-1) { // duplicates are harmless
			t.Fatal("duplicate shard changed completion")
		}
	}
	vec, got, of, ok := a.Take("p", 3, nil)
	if !ok || got != 4 || of != 4 || !slices.Equal(vec, params) {
		t.Fatalf("reassembled %d of %d shards, equal=%v", got, of, slices.Equal(vec, params))
	}
}

func TestAssemblerFillsMissingShardsFromOwnValues(t *testing.T) {
	params := make([]float32, 100)
	own := make([]float32, 100)
	for i := range params {
		params[i], own[i] = 1, -1
	}
	shards := Split(Shard{Round: 0, Encoding: EncodingFloat32, DataWeight: 1}, params, 30) // 0-30, 30-60, 60-90, 90-100
	a := NewAssembler(100, 1, 1)
	for _, i := range []int{0, 2} {
		if _, err := a.Add("p", &shards[i]); err != nil {
			t.Fatal(err)
		}
	}
	vec, got, of, ok := a.Take("p", 0, own)
	if !ok || got != 2 || of != 4 {
		t.Fatalf("got %d of %d, ok=%v", got, of, ok)
	}
	for i, v := range vec {
		want := float32(-1)
		if i < 30 || (i >= 60 && i < 90) {
			want = 1
		}
		if v != want {
			t.Fatalf("value %d = %g, want %g", i, v, want)
		}
	}
	if _, _, _, ok := a.Take("p", 0, own); ok {
		t.Fatal("Take returned the same round twice")
	}
}

func TestAssemblerBoundsMemory(t *testing.T) {
	a := NewAssembler(10, 2, 2)
	shard := func(round uint64) *Shard {
		return &Shard{Round: round, Count: 2, Total: 10, Values: make([]float32, 5), Encoding: EncodingFloat32}
	}
	for _, c := range []struct {
		sender string
		round  uint64
		ok     bool
	}{{"a", 1, true}, {"a", 2, true}, {"a", 3, false}, {"b", 1, true}, {"c", 1, false}} {
		_, err := a.Add(c.sender, shard(c.round))
		if (err == nil) != c.ok {
			t.Errorf("sender %s round %d: err %v, want ok=%v", c.sender, c.round, err, c.ok)
		}
	}
	a.DropBefore(3)
	if _, err := a.Add("c", shard(4)); err != nil {
		t.Errorf("after DropBefore, a new sender was refused: %v", err)
	}
	if _, err := a.Add("c", &Shard{Round: 4, Count: 2, Total: 11, Values: make([]float32, 5)}); !errors.Is(err, ErrShardRange) {
		t.Errorf("a shard of another vector length: %v", err)
	}
}

// TestDecodeRejects covers every structural reject path.
func TestDecodeRejects(t *testing.T) {
	valid := encode(t, exampleShard())
	mutate := func(f func(b []byte)) []byte {
		b := bytes.Clone(valid)
		f(b)
		binary.LittleEndian.PutUint32(b[76:], shardChecksum(b)) // keep the checksum right so the named rule is what fails
		return b
	}
	nan := mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[84:], math.Float32bits(float32(math.NaN()))) })
	inf := mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[80:], math.Float32bits(float32(math.Inf(-1)))) })
	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"short header", valid[:40], ErrMalformed},
		{"bad magic", mutate(func(b []byte) { b[0] = 'X' }), ErrMalformed},
		{"version 2", mutate(func(b []byte) { b[4] = 2 }), ErrMalformed},
		{"unknown encoding", mutate(func(b []byte) { b[5] = 9 }), ErrMalformed},
		{"flags set", mutate(func(b []byte) { b[6] = 1 }), ErrMalformed},
		{"reserved set", mutate(func(b []byte) { b[66] = 1 }), ErrMalformed},
		{"payload length lies", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[72:], 1<<30) }), ErrMalformed},
		{"payload not whole floats", append(mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[72:], 13) }), 0), ErrMalformed},
		{"flipped payload byte", func() []byte { b := bytes.Clone(valid); b[81] ^= 1; return b }(), ErrChecksum},
		{"flipped header byte", func() []byte { b := bytes.Clone(valid); b[41] ^= 1; return b }(), ErrChecksum},
		{"NaN value", nan, ErrNonFinite},
		{"-Inf value", inf, ErrNonFinite},
		{"index ≥ count", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[48:], 3) }), ErrShardRange},
		{"zero count", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[52:], 0) }), ErrShardRange},
		{"past the end", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[56:], 759) }), ErrShardRange},
		{"offset overflow", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[56:], math.MaxUint32) }), ErrShardRange},
		{"oversize", make([]byte, MaxMessageBytes+1), ErrOversize},
	}
	for _, c := range cases {
		s, err := DecodeShard(c.msg)
		if !errors.Is(err, c.want) || s != nil {
			t.Errorf("%s: got %v, %v; want %v", c.name, s, err, c.want)
		}
	}
	for n := range len(valid) { // every truncation: an error, never a panic
		if _, err := DecodeShard(valid[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
}

func TestExpectRejects(t *testing.T) {
	e := Expect{RunID: RunID("demo"), Model: ModelFingerprint("mlp:64-10-10", 760), Total: 760, Window: 8}
	ok := exampleShard()
	if err := e.Check(ok, 7); err != nil {
		t.Fatalf("valid shard refused: %v", err)
	}
	cases := []struct {
		name  string
		edit  func(*Shard)
		local uint64
		want  error
	}{
		{"other run", func(s *Shard) { s.RunID = RunID("other") }, 7, ErrWrongRun},
		{"other model", func(s *Shard) { s.Model = ModelFingerprint("mlp:64-10-10", 761) }, 7, ErrWrongModel},
		{"other length", func(s *Shard) { s.Total = 761 }, 7, ErrShardRange},
		{"stale", func(s *Shard) {}, 16, ErrStaleRound},
		{"future", func(s *Shard) { s.Round = 100 }, 7, ErrFutureRound},
		{"zero weight", func(s *Shard) { s.DataWeight = 0 }, 7, ErrBadWeight},
		{"huge weight", func(s *Shard) { s.DataWeight = 1e30 }, 7, ErrBadWeight},
		{"NaN weight", func(s *Shard) { s.DataWeight = float32(math.NaN()) }, 7, ErrBadWeight},
	}
	for _, c := range cases {
		s := *exampleShard()
		c.edit(&s)
		if err := e.Check(&s, c.local); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if err := e.Check(ok, 15); err != nil {
		t.Errorf("round 7 at local round 15 is inside the window of 8: %v", err)
	}
}

func TestEncodeRefusesInconsistentShards(t *testing.T) {
	for name, s := range map[string]Shard{
		"index ≥ count": {Index: 2, Count: 2, Total: 4, Values: []float32{1}, Encoding: EncodingFloat32},
		"past total":    {Index: 0, Count: 1, Offset: 3, Total: 4, Values: []float32{1, 2}, Encoding: EncodingFloat32},
		"no encoding":   {Index: 0, Count: 1, Total: 1, Values: []float32{1}},
		"oversize":      {Index: 0, Count: 1, Total: 1 << 20, Values: make([]float32, 1<<18), Encoding: EncodingFloat32},
	} {
		if _, err := AppendShard(nil, &s); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	if n := ShardValues(256 << 10); HeaderSize+4*n > 256<<10 {
		t.Errorf("ShardValues(256 KiB) = %d encodes to %d bytes", n, HeaderSize+4*n)
	}
}

func TestHeartbeatRoundTripAndRejects(t *testing.T) {
	run, model := RunID("r"), ModelFingerprint("m", 5)
	hb := Heartbeat{RunID: run, Model: model, Round: 42, Degree: 4, DataWeight: 1.5, SamplesPerSec: 900}
	b := hb.Marshal()
	got, err := UnmarshalHeartbeat(b, run, model)
	if err != nil || *got != hb {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	bad := map[string][]byte{"short": b[:63], "checksum": func() []byte { c := bytes.Clone(b); c[45] ^= 1; return c }()}
	for name, msg := range bad {
		if _, err := UnmarshalHeartbeat(msg, run, model); err == nil {
			t.Errorf("%s heartbeat accepted", name)
		}
	}
	if _, err := UnmarshalHeartbeat(b, RunID("x"), model); !errors.Is(err, ErrWrongRun) {
		t.Errorf("other run: %v", err)
	}
	neg := hb
	neg.DataWeight = -1
	if _, err := UnmarshalHeartbeat(neg.Marshal(), run, model); !errors.Is(err, ErrBadWeight) {
		t.Errorf("negative weight: %v", err)
	}
}

// TestProtocolWorkedExample decodes the hex dump in docs/PROTOCOL.md and
// checks it against the values the document states.
func TestProtocolWorkedExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "PROTOCOL.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```hex\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/PROTOCOL.md has no ```hex block")
	}
	raw, err := hex.DecodeString(strings.Join(strings.Fields(string(m[1])), ""))
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeShard(raw)
	if err != nil {
		t.Fatalf("the documented example does not decode: %v", err)
	}
	if err := (Expect{RunID: RunID("demo"), Model: ModelFingerprint("mlp:64-10-10", 760), Total: 760, Window: 0}).Check(s, 7); err != nil {
		t.Fatalf("example fails validation: %v", err)
	}
	if s.Index != 1 || s.Count != 3 || s.Offset != 4 || s.Degree != 4 || s.DataWeight != 1 ||
		!slices.Equal(s.Values, []float32{0.5, -1.25, 3}) {
		t.Fatalf("example decodes to %+v", s)
	}
	if !bytes.Equal(encode(t, exampleShard()), raw) {
		t.Fatal("encoding the documented fields does not give the documented bytes")
	}
}

func FuzzDecodeShard(f *testing.F) {
	f.Add(encode(f, exampleShard()))
	big := exampleShard()
	big.Values = make([]float32, 1000)
	big.Total = 2000
	f.Add(encode(f, big))
	f.Add([]byte("GMSH"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeShard(b)
		if err != nil {
			return
		}
		again, err := AppendShard(nil, s)
		if err != nil {
			t.Fatalf("decoded shard does not re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatal("re-encoding a decoded shard changed its bytes")
		}
		for _, v := range s.Values {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatal("non-finite value accepted")
			}
		}
	})
}

func BenchmarkShardCodec(b *testing.B) {
	s := exampleShard()
	s.Values = make([]float32, ShardValues(256<<10))
	s.Total, s.Offset = uint32(len(s.Values))*3, 0
	buf := encode(b, s)
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		out := make([]byte, 0, len(buf))
		for b.Loop() {
			out, _ = AppendShard(out[:0], s)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			if _, err := DecodeShard(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
