package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
)

// Codec encodes the values of one shard as its payload. The shard header
// names the codec by its Encoding byte, so a receiver decodes any payload
// whose codec it has registered; a shard in an encoding it lacks is
// malformed to it. Peers of one run may each send in a different codec, as
// long as every member has them all.
//
// A codec's size function must be exact and invertible: EncodedSize(n) is
// the payload length of n values whatever they are, it grows with n, and
// ValueCount recovers n from a payload length. That is what lets a receiver
// check a shard's geometry before it allocates, and what lets the simulator
// charge exactly the bytes a live peer sends (VectorBytes).
type Codec interface {
	// Encoding is the header byte naming this codec; 0 is never valid.
	Encoding() Encoding
	// Name is a short lower-case name for flags and logs, e.g. "float32".
	Name() string
	// EncodedSize is the payload length, in bytes, of n ≥ 1 values.
	EncodedSize(n int) int
	// ValueCount is how many values a payload of size bytes holds, or an
	// error saying why no count encodes to exactly size bytes.
	ValueCount(size int) (int, error)
	// Append appends the encoding of values, EncodedSize(len(values))
	// bytes, to dst. Values are finite (AppendShard checks).
	Append(dst []byte, values []float32) []byte
	// Decode writes the values of payload into dst, whose length is
	// ValueCount(len(payload)). It may return any float32; DecodeShard
	// refuses the non-finite ones.
	Decode(dst []float32, payload []byte) error
}

// EncodingFloat32 is a payload of value count × IEEE-754 binary32,
// little-endian (Float32). Encoding 0 is invalid.
const EncodingFloat32 Encoding = 1

// Float32 is the lossless codec: each value's 32 bits, little-endian.
var Float32 Codec = float32Codec{}

type float32Codec struct{}

func (float32Codec) Encoding() Encoding    { return EncodingFloat32 }
func (float32Codec) Name() string          { return "float32" }
func (float32Codec) EncodedSize(n int) int { return 4 * n }
func (float32Codec) ValueCount(size int) (int, error) {
	if size%4 != 0 {
		return 0, fmt.Errorf("payload of %d bytes is not a whole number of float32 values", size)
	}
	return size / 4, nil
}

func (float32Codec) Append(dst []byte, values []float32) []byte {
	for _, v := range values {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
	}
	return dst
}

func (float32Codec) Decode(dst []float32, payload []byte) error {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(payload[4*i:]))
	}
	return nil
}

// codecs holds the registered codecs by encoding byte.
var codecs = struct {
	sync.RWMutex
	byEncoding map[Encoding]Codec
}{byEncoding: map[Encoding]Codec{EncodingFloat32: Float32}}

// RegisterCodec makes c decodable and encodable under its Encoding byte.
// A new codec is one file implementing Codec plus one RegisterCodec call,
// made from that file's init.
//
// Like training.RegisterModel, it panics on a mistake in the program,
// which an init makes fail the first time the program starts: a nil codec,
// encoding 0 or one taken, an empty or taken name, a size function that is
// not exact and increasing (ValueCount(EncodedSize(n)) = n, checked for
// n ≤ 1024), or a single value that does not fit in a shard.
func RegisterCodec(c Codec) {
	if c == nil {
		panic("wire: RegisterCodec(nil)")
	}
	e, name := c.Encoding(), c.Name()
	switch {
	case e == 0:
		panic(fmt.Sprintf("wire: codec %q: encoding 0 is reserved as invalid", name))
	case name == "":
		panic(fmt.Sprintf("wire: codec of encoding %d has no name", e))
	case HeaderSize+c.EncodedSize(1) > MaxShardBytes:
		panic(fmt.Sprintf("wire: codec %q: one value takes %d bytes, more than a shard holds", name, c.EncodedSize(1)))
	}
	for n := 1; n <= 1024; n++ {
		if got, err := c.ValueCount(c.EncodedSize(n)); err != nil || got != n || c.EncodedSize(n+1) <= c.EncodedSize(n) {
			panic(fmt.Sprintf("wire: codec %q: %d values encode to %d bytes (%d for one more), which decode as %d values (%v): sizes must be exact and increasing",
				name, n, c.EncodedSize(n), c.EncodedSize(n+1), got, err))
		}
	}
	codecs.Lock()
	defer codecs.Unlock()
	for _, old := range codecs.byEncoding {
		if old.Encoding() == e || old.Name() == name {
			panic(fmt.Sprintf("wire: codec %q (encoding %d) clashes with %q (encoding %d)", name, e, old.Name(), old.Encoding()))
		}
	}
	codecs.byEncoding[e] = c
}

// CodecFor returns the codec registered under e.
func CodecFor(e Encoding) (Codec, bool) {
	codecs.RLock()
	defer codecs.RUnlock()
	c, ok := codecs.byEncoding[e]
	return c, ok
}

// CodecNamed returns the registered codec with this name, or an error that
// lists the names there are.
func CodecNamed(name string) (Codec, error) {
	codecs.RLock()
	defer codecs.RUnlock()
	var names []string
	for _, c := range codecs.byEncoding {
		if c.Name() == name {
			return c, nil
		}
		names = append(names, c.Name())
	}
	slices.Sort(names)
	return nil, fmt.Errorf("wire: unknown codec %q (registered: %v)", name, names)
}

// String names the encoding for logs: its codec's name when registered.
func (e Encoding) String() string {
	if c, ok := CodecFor(e); ok {
		return c.Name()
	}
	return "encoding(" + strconv.Itoa(int(e)) + ")"
}
