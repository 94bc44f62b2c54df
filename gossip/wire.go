package gossip

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
)

// Wire format v1 of a parameter shard. Every integer and float is
// little-endian; the layout is specified byte by byte in docs/PROTOCOL.md.
//
//	off size field
//	  0   4  magic "GMSH"
//	  4   1  version (1)
//	  5   1  encoding (1 = float32)
//	  6   2  flags (0; reserved)
//	  8  16  run id
//	 24  16  model fingerprint
//	 40   8  round
//	 48   4  shard index
//	 52   4  shard count
//	 56   4  offset of the first value in the full vector
//	 60   4  total length of the full vector
//	 64   2  sender degree
//	 66   2  reserved (0)
//	 68   4  data weight (float32)
//	 72   4  payload length in bytes
//	 76   4  CRC-32C (Castagnoli) of bytes 0..75 and the payload
//	 80   …  payload
const (
	WireVersion = 1
	HeaderSize  = 80
	// MaxMessageBytes is gossipsub's default limit for a whole frame; an
	// encoded shard must stay below it or gossipsub drops it silently.
	MaxMessageBytes = 1 << 20
)

// Encoding says how a shard's payload represents its values.
type Encoding uint8

// EncodingFloat32 is count × IEEE-754 float32. Zero is invalid, leaving
// room for compressed encodings.
const EncodingFloat32 Encoding = 1

var shardMagic = [4]byte{'G', 'M', 'S', 'H'}

// Errors a malformed or unwanted shard is rejected with.
var (
	ErrMalformed   = errors.New("gossip: malformed message")
	ErrChecksum    = errors.New("gossip: checksum mismatch")
	ErrNonFinite   = errors.New("gossip: non-finite value")
	ErrWrongRun    = errors.New("gossip: message for another run")
	ErrWrongModel  = errors.New("gossip: message for another model")
	ErrShardRange  = errors.New("gossip: shard index, offset or length out of range")
	ErrOversize    = errors.New("gossip: message too large")
	ErrStaleRound  = errors.New("gossip: round too far behind")
	ErrFutureRound = errors.New("gossip: round too far ahead")
	ErrBadWeight   = errors.New("gossip: data weight not a finite value in (0, 1e6]")
)

// Shard is one piece of a peer's parameter vector for one round.
type Shard struct {
	RunID        [16]byte
	Model        [16]byte
	Round        uint64
	Index, Count uint32
	Offset       uint32 // index of Values[0] in the full vector
	Total        uint32 // length of the full vector
	Degree       uint16 // sender's neighbor count this round
	DataWeight   float32
	Encoding     Encoding
	Values       []float32
}

// RunID names a training run on the wire: the first 16 bytes of
// SHA-256("gradmesh/run/" + run).
func RunID(run string) [16]byte { return first16("gradmesh/run/" + run) }

// ModelFingerprint identifies an architecture and parameter count: the first
// 16 bytes of SHA-256("gradmesh/model/" + spec + "/" + params in decimal).
func ModelFingerprint(spec string, params int) [16]byte {
	return first16("gradmesh/model/" + spec + "/" + strconv.Itoa(params))
}

func first16(s string) [16]byte {
	sum := sha256.Sum256([]byte(s))
	return [16]byte(sum[:16])
}

// AppendShard encodes s after dst.
func AppendShard(dst []byte, s *Shard) ([]byte, error) {
	n := len(s.Values)
	switch {
	case s.Encoding != EncodingFloat32:
		return dst, fmt.Errorf("%w: encoding %d", ErrMalformed, s.Encoding)
	case s.Count == 0 || s.Index >= s.Count:
		return dst, fmt.Errorf("%w: shard %d of %d", ErrShardRange, s.Index, s.Count)
	case uint64(s.Offset)+uint64(n) > uint64(s.Total):
		return dst, fmt.Errorf("%w: values %d..%d of %d", ErrShardRange, s.Offset, uint64(s.Offset)+uint64(n), s.Total)
	case HeaderSize+4*n > MaxMessageBytes:
		return dst, fmt.Errorf("%w: %d values encode to %d bytes, limit %d", ErrOversize, n, HeaderSize+4*n, MaxMessageBytes)
	}
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize+4*n)...)
	b := dst[start:]
	copy(b[0:4], shardMagic[:])
	b[4] = WireVersion
	b[5] = byte(s.Encoding)
	copy(b[8:24], s.RunID[:])
	copy(b[24:40], s.Model[:])
	le := binary.LittleEndian
	le.PutUint64(b[40:], s.Round)
	le.PutUint32(b[48:], s.Index)
	le.PutUint32(b[52:], s.Count)
	le.PutUint32(b[56:], s.Offset)
	le.PutUint32(b[60:], s.Total)
	le.PutUint16(b[64:], s.Degree)
	le.PutUint32(b[68:], math.Float32bits(s.DataWeight))
	le.PutUint32(b[72:], uint32(4*n))
	for i, v := range s.Values {
		le.PutUint32(b[HeaderSize+4*i:], math.Float32bits(v))
	}
	le.PutUint32(b[76:], shardChecksum(b))
	return dst, nil
}

// shardChecksum covers the header before the checksum field and the payload.
func shardChecksum(b []byte) uint32 {
	c := crc32.Update(0, castagnoli, b[:76])
	return crc32.Update(c, castagnoli, b[HeaderSize:])
}

// DecodeShard parses and structurally checks an encoded shard. It never
// allocates more than the bytes present justify.
func DecodeShard(b []byte) (*Shard, error) {
	if len(b) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrOversize, len(b))
	}
	if len(b) < HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(b), HeaderSize)
	}
	le := binary.LittleEndian
	switch {
	case [4]byte(b[0:4]) != shardMagic:
		return nil, fmt.Errorf("%w: bad magic %x", ErrMalformed, b[0:4])
	case b[4] != WireVersion:
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, b[4], WireVersion)
	case Encoding(b[5]) != EncodingFloat32:
		return nil, fmt.Errorf("%w: unknown encoding %d", ErrMalformed, b[5])
	case le.Uint16(b[6:]) != 0 || le.Uint16(b[66:]) != 0:
		return nil, fmt.Errorf("%w: reserved fields set", ErrMalformed)
	}
	plen := le.Uint32(b[72:])
	if uint64(plen) != uint64(len(b)-HeaderSize) || plen%4 != 0 {
		return nil, fmt.Errorf("%w: payload length field %d, %d bytes present", ErrMalformed, plen, len(b)-HeaderSize)
	}
	if shardChecksum(b) != le.Uint32(b[76:]) {
		return nil, ErrChecksum
	}
	s := &Shard{Encoding: EncodingFloat32, Round: le.Uint64(b[40:]), Index: le.Uint32(b[48:]), Count: le.Uint32(b[52:]),
		Offset: le.Uint32(b[56:]), Total: le.Uint32(b[60:]), Degree: le.Uint16(b[64:]),
		DataWeight: math.Float32frombits(le.Uint32(b[68:]))}
	copy(s.RunID[:], b[8:24])
	copy(s.Model[:], b[24:40])
	n := int(plen / 4)
	if s.Count == 0 || s.Index >= s.Count || uint64(s.Offset)+uint64(n) > uint64(s.Total) || n == 0 {
		return nil, fmt.Errorf("%w: shard %d of %d, values %d..%d of %d", ErrShardRange, s.Index, s.Count, s.Offset, uint64(s.Offset)+uint64(n), s.Total)
	}
	s.Values = make([]float32, n)
	for i := range s.Values {
		v := math.Float32frombits(le.Uint32(b[HeaderSize+4*i:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%w: value %d of shard %d", ErrNonFinite, i, s.Index)
		}
		s.Values[i] = v
	}
	return s, nil
}

// ShardValues is how many float32 values fit one shard of at most maxBytes
// encoded (at least 1).
func ShardValues(maxBytes int) int {
	maxBytes = min(maxBytes, MaxMessageBytes)
	return max(1, (maxBytes-HeaderSize)/4)
}

// Split cuts params into shards of at most per values, each carrying the
// template's identity fields. Values alias params.
func Split(template Shard, params []float32, per int) []Shard {
	per = max(per, 1)
	count := (len(params) + per - 1) / per
	out := make([]Shard, 0, count)
	for i := range count {
		s := template
		lo, hi := i*per, min((i+1)*per, len(params))
		s.Index, s.Count, s.Offset, s.Total = uint32(i), uint32(count), uint32(lo), uint32(len(params))
		s.Values = params[lo:hi]
		out = append(out, s)
	}
	return out
}

// Expect is what a receiver requires of a shard beyond its structure.
type Expect struct {
	RunID, Model [16]byte
	Total        int    // expected vector length
	Window       uint64 // accepted rounds: [local − Window, local + Window]
}

// Check accepts a decoded shard or says which rule it breaks.
func (e Expect) Check(s *Shard, localRound uint64) error {
	switch {
	case s.RunID != e.RunID:
		return ErrWrongRun
	case s.Model != e.Model:
		return ErrWrongModel
	case int(s.Total) != e.Total:
		return fmt.Errorf("%w: vector of %d values, want %d", ErrShardRange, s.Total, e.Total)
	case s.Round+e.Window < localRound:
		return fmt.Errorf("%w: round %d, local round %d", ErrStaleRound, s.Round, localRound)
	case s.Round > localRound+e.Window:
		return fmt.Errorf("%w: round %d, local round %d", ErrFutureRound, s.Round, localRound)
	case !(s.DataWeight > 0 && s.DataWeight <= 1e6):
		return fmt.Errorf("%w: %g", ErrBadWeight, s.DataWeight)
	}
	return nil
}
