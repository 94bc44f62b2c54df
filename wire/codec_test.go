package wire_test

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gradmesh/gradmesh/internal/testcodec"
	"github.com/gradmesh/gradmesh/wire"
)

// halfSized claims n values take n/2 bytes, so two counts share a size.
type halfSized struct{ testcodec.BigEndian32 }

func (halfSized) Encoding() wire.Encoding { return 0xf1 }
func (halfSized) EncodedSize(n int) int   { return n / 2 }

// renamed is a codec under another encoding byte and name.
type renamed struct {
	testcodec.BigEndian32
	encoding wire.Encoding
	name     string
}

func (r renamed) Encoding() wire.Encoding { return r.encoding }
func (r renamed) Name() string            { return r.name }

// panics reports whether f panicked.
func panics(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

// TestRegisterCodec: a codec registered in a file of its own is found by
// its encoding byte and name, carries a vector through Split, AppendShard,
// DecodeShard and the Assembler, and is priced exactly by VectorBytes; a
// taken byte or name, a nil codec, or a size function that loses the value
// count is a mistake that panics.
func TestRegisterCodec(t *testing.T) {
	if c, ok := wire.CodecFor(testcodec.Encoding); !ok || c.Name() != "float32-be" {
		t.Fatalf("CodecFor(%d) = %v, %v", testcodec.Encoding, c, ok)
	}
	if c, err := wire.CodecNamed("float32-be"); err != nil || c.Encoding() != testcodec.Encoding {
		t.Fatalf("CodecNamed = %v, %v", c, err)
	}
	for name, c := range map[string]wire.Codec{"a taken encoding byte": testcodec.BigEndian32{}, "sizes that lose the count": halfSized{},
		"nil": nil, "a taken name": renamed{testcodec.BigEndian32{}, 0xf2, "float32"}, "no name": renamed{testcodec.BigEndian32{}, 0xf3, ""}} {
		if !panics(func() { wire.RegisterCodec(c) }) {
			t.Errorf("a codec with %s was registered", name)
		}
	}
	if _, err := wire.CodecNamed("no-such"); err == nil {
		t.Error("CodecNamed found a codec that is not registered")
	}

	rng := rand.New(rand.NewPCG(1, 2))
	vec := make([]float32, 1000)
	for i := range vec {
		vec[i] = float32(rng.NormFloat64())
	}
	c := testcodec.BigEndian32{}
	const budget = 1 << 10
	asm := wire.NewAssembler(len(vec), 1, 1)
	sent := 0
	for _, s := range wire.Split(wire.Shard{Round: 3, DataWeight: 1, Encoding: testcodec.Encoding}, vec, wire.ShardValues(c, budget)) {
		b, err := wire.AppendShard(nil, &s)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > budget {
			t.Fatalf("shard of %d bytes over the %d-byte budget", len(b), budget)
		}
		if binary.BigEndian.Uint32(b[wire.HeaderSize:]) != math.Float32bits(s.Values[0]) {
			t.Fatal("the shard is not written by the registered codec")
		}
		sent += len(b)
		got, err := wire.DecodeShard(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Encoding != testcodec.Encoding {
			t.Fatalf("decoded encoding %v", got.Encoding)
		}
		if _, err := asm.Add("a", got); err != nil {
			t.Fatal(err)
		}
	}
	out, ok := asm.Take("a", 3)
	if !ok || !slices.Equal(out.Values, vec) {
		t.Fatal("the vector did not survive the codec")
	}
	if got := wire.VectorBytes(c, len(vec), budget); got != sent {
		t.Errorf("VectorBytes = %d, the shards took %d", got, sent)
	}
}

// VectorBytes is exactly the bytes AppendShard writes for Split's shards,
// whatever the length and budget.
func TestVectorBytesIsWhatShardsTake(t *testing.T) {
	for _, n := range []int{1, 2, 3, 100, 65_516, 65_517, 101_770, 300_001} {
		for _, budget := range []int{0, wire.HeaderSize + 4, 1000, 64 << 10, wire.DefaultShardBytes, wire.MaxShardBytes} {
			want := 0
			for _, s := range wire.Split(wire.Shard{DataWeight: 1, Encoding: wire.EncodingFloat32}, make([]float32, n), wire.ShardValues(wire.Float32, budget)) {
				b, err := wire.AppendShard(nil, &s)
				if err != nil {
					t.Fatal(err)
				}
				want += len(b)
			}
			if got := wire.VectorBytes(wire.Float32, n, budget); got != want {
				t.Errorf("VectorBytes(float32, %d, %d) = %d, shards take %d", n, budget, got, want)
			}
		}
	}
}

func TestUnknownEncodingIsMalformed(t *testing.T) {
	s := wire.Shard{Total: 1, Count: 1, DataWeight: 1, Encoding: 0xee, Values: []float32{1}}
	if _, err := wire.AppendShard(nil, &s); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("AppendShard in an unregistered encoding = %v, want ErrMalformed", err)
	}
}
