package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// bigEndian32 is a codec that exists only in this test: float32 values,
// big-endian. It shows what adding a codec takes: one type implementing
// Codec and one RegisterCodec call.
type bigEndian32 struct{}

const encodingBigEndian32 Encoding = 0xf0

func (bigEndian32) Encoding() Encoding    { return encodingBigEndian32 }
func (bigEndian32) Name() string          { return "float32-be" }
func (bigEndian32) EncodedSize(n int) int { return 4 * n }
func (bigEndian32) ValueCount(size int) (int, error) {
	if size%4 != 0 {
		return 0, fmt.Errorf("%d bytes is not whole values", size)
	}
	return size / 4, nil
}
func (bigEndian32) Append(dst []byte, values []float32) []byte {
	for _, v := range values {
		dst = binary.BigEndian.AppendUint32(dst, math.Float32bits(v))
	}
	return dst
}
func (bigEndian32) Decode(dst []float32, payload []byte) error {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.BigEndian.Uint32(payload[4*i:]))
	}
	return nil
}

// halfSized claims n values take n/2 bytes, so two counts share a size.
type halfSized struct{ bigEndian32 }

func (halfSized) Encoding() Encoding    { return 0xf1 }
func (halfSized) EncodedSize(n int) int { return n / 2 }

func TestRegisterCodec(t *testing.T) {
	if _, done := CodecFor(encodingBigEndian32); !done { // -count > 1 runs this again
		if err := RegisterCodec(bigEndian32{}); err != nil {
			t.Fatal(err)
		}
	}
	if c, ok := CodecFor(encodingBigEndian32); !ok || c.Name() != "float32-be" {
		t.Fatalf("CodecFor(%d) = %v, %v", encodingBigEndian32, c, ok)
	}
	if c, err := CodecNamed("float32-be"); err != nil || c.Encoding() != encodingBigEndian32 {
		t.Fatalf("CodecNamed = %v, %v", c, err)
	}
	if err := RegisterCodec(bigEndian32{}); err == nil {
		t.Error("a second codec under a taken encoding byte was registered")
	}
	if err := RegisterCodec(halfSized{}); err == nil {
		t.Error("a codec whose sizes do not tell the value count was registered")
	}
	if _, err := CodecNamed("no-such"); err == nil {
		t.Error("CodecNamed found a codec that is not registered")
	}

	// A vector round-trips through shards in the new encoding, and
	// VectorBytes prices it exactly.
	rng := rand.New(rand.NewPCG(1, 2))
	vec := make([]float32, 1000)
	for i := range vec {
		vec[i] = float32(rng.NormFloat64())
	}
	c := bigEndian32{}
	const budget = 1 << 10
	asm := NewAssembler(len(vec), 1, 1)
	sent := 0
	for _, s := range Split(Shard{Round: 3, DataWeight: 1, Encoding: encodingBigEndian32}, vec, ShardValues(c, budget)) {
		b, err := AppendShard(nil, &s)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > budget {
			t.Fatalf("shard of %d bytes over the %d-byte budget", len(b), budget)
		}
		if b[offEncoding] != byte(encodingBigEndian32) || binary.BigEndian.Uint32(b[HeaderSize:]) != math.Float32bits(s.Values[0]) {
			t.Fatal("the shard is not written by the registered codec")
		}
		sent += len(b)
		got, err := DecodeShard(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := asm.Add("a", got); err != nil {
			t.Fatal(err)
		}
	}
	out, ok := asm.Take("a", 3)
	if !ok || !slices.Equal(out.Values, vec) {
		t.Fatal("the vector did not survive the codec")
	}
	if got := VectorBytes(c, len(vec), budget); got != sent {
		t.Errorf("VectorBytes = %d, the shards took %d", got, sent)
	}
}

// VectorBytes is exactly the bytes AppendShard writes for Split's shards,
// whatever the length and budget.
func TestVectorBytesIsWhatShardsTake(t *testing.T) {
	for _, n := range []int{1, 2, 3, 100, 65_516, 65_517, 101_770, 300_001} {
		for _, budget := range []int{0, HeaderSize + 4, 1000, 64 << 10, DefaultShardBytes, MaxShardBytes} {
			want := 0
			for _, s := range Split(Shard{DataWeight: 1, Encoding: EncodingFloat32}, make([]float32, n), ShardValues(Float32, budget)) {
				b, err := AppendShard(nil, &s)
				if err != nil {
					t.Fatal(err)
				}
				want += len(b)
			}
			if got := VectorBytes(Float32, n, budget); got != want {
				t.Errorf("VectorBytes(float32, %d, %d) = %d, shards take %d", n, budget, got, want)
			}
		}
	}
}

func TestUnknownEncodingIsMalformed(t *testing.T) {
	s := Shard{Total: 1, Count: 1, DataWeight: 1, Encoding: 0xee, Values: []float32{1}}
	if _, err := AppendShard(nil, &s); !errors.Is(err, ErrMalformed) {
		t.Errorf("AppendShard in an unregistered encoding = %v, want ErrMalformed", err)
	}
}
