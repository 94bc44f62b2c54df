// Package testcodec is a vector codec for tests, shipped nowhere: float32
// values, big-endian. It shows what adding a codec takes (one type that
// implements wire.Codec, one wire.RegisterCodec call from its init) and
// lets tests see that a registered codec carries the vectors: importing
// the package registers it.
package testcodec

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/gradmesh/gradmesh/wire"
)

// BigEndian32 encodes each value's 32 bits big-endian: lossless, and
// distinguishable from wire.Float32 on the wire. It counts what it encodes.
type BigEndian32 struct{}

// Encoding is the header byte BigEndian32 registers under.
const Encoding wire.Encoding = 0xf0

var encoded atomic.Int64

// Encoded is how many values BigEndian32 has encoded in this process.
func Encoded() int64 { return encoded.Load() }

func init() { wire.RegisterCodec(BigEndian32{}) }

func (BigEndian32) Encoding() wire.Encoding { return Encoding }
func (BigEndian32) Name() string            { return "float32-be" }
func (BigEndian32) EncodedSize(n int) int   { return 4 * n }

func (BigEndian32) ValueCount(size int) (int, error) {
	if size%4 != 0 {
		return 0, fmt.Errorf("%d bytes is not whole values", size)
	}
	return size / 4, nil
}

func (BigEndian32) Append(dst []byte, values []float32) []byte {
	encoded.Add(int64(len(values)))
	for _, v := range values {
		dst = binary.BigEndian.AppendUint32(dst, math.Float32bits(v))
	}
	return dst
}

func (BigEndian32) Decode(dst []float32, payload []byte) error {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.BigEndian.Uint32(payload[4*i:]))
	}
	return nil
}
