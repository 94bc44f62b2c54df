package wire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

// Wire format v1 of a parameter shard, as specified in docs/PROTOCOL.md.
// Every multi-byte integer is little-endian, and every float is an IEEE-754
// binary32 whose 32-bit pattern is stored little-endian. Offsets in bytes:
//
//	off size type     field
//	  0   4 [4]byte  magic "GMSH" (47 4d 53 48)
//	  4   1 u8       version (WireVersion = 1)
//	  5   1 u8       encoding (EncodingFloat32 = 1)
//	  6   2 u16      flags, reserved: 0
//	  8  16 [16]byte run id, RunID(run)
//	 24  16 [16]byte model fingerprint, ModelFingerprint(spec, params)
//	 40   8 u64      round of the sender
//	 48   4 u32      shard index, in [0, count)
//	 52   4 u32      shard count
//	 56   4 u32      offset: vector index of the first value
//	 60   4 u32      total: length of the full vector, in values
//	 64   2 u16      degree: sender's neighbor count this round
//	 66   2 u16      reserved: 0
//	 68   4 f32      data weight n_i / mean(n)
//	 72   4 u32      payload length in bytes (the codec's size of value count)
//	 76   4 u32      CRC-32C (Castagnoli) of bytes 0..75, then the payload
//	 80   …          payload: the values as the encoding's Codec writes them
//	                 (EncodingFloat32: value count × f32)
const (
	// WireVersion is the version byte this package writes and the only one
	// it reads.
	WireVersion = 1
	// HeaderSize is the length of the fixed header in bytes.
	HeaderSize = 80
	// MaxMessageBytes is gossipsub's default limit, in bytes, for a whole
	// RPC frame: our shard plus the envelope gossipsub wraps around it.
	// gossipsub drops larger frames silently.
	MaxMessageBytes = 1 << 20
	// FrameReserve is the part of MaxMessageBytes, in bytes, left for
	// gossipsub's envelope: sender ID, sequence number, topic name,
	// signature, public key and protobuf framing (under 1 KiB even with an
	// RSA key).
	FrameReserve = 4 << 10
	// MaxShardBytes is the largest encoded shard, in bytes, that
	// AppendShard writes and DecodeShard reads.
	MaxShardBytes = MaxMessageBytes - FrameReserve
)

// Byte offsets of the header fields.
const (
	offMagic      = 0
	offVersion    = 4
	offEncoding   = 5
	offFlags      = 6
	offRun        = 8
	offModel      = 24
	offRound      = 40
	offIndex      = 48
	offCount      = 52
	offOffset     = 56
	offTotal      = 60
	offDegree     = 64
	offReserved   = 66
	offWeight     = 68
	offPayloadLen = 72
	offCRC        = 76
)

// Encoding names a shard's payload codec (see Codec); 0 is invalid.
type Encoding uint8

var shardMagic = [4]byte{'G', 'M', 'S', 'H'}

// crcTable is CRC-32C (Castagnoli, reflected polynomial 0x82f63b78).
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Shard is one piece of a peer's parameter vector for one round.
type Shard struct {
	RunID        [16]byte // RunID(run name)
	Model        [16]byte // ModelFingerprint(spec, params)
	Round        uint64   // sender's round
	Index, Count uint32   // shard index in [0, Count)
	Offset       uint32   // index of Values[0] in the full vector
	Total        uint32   // length of the full vector, in values
	Degree       uint16   // sender's number of neighbors this round (for Metropolis weights)
	DataWeight   float32  // sender's data share n_i / mean (> 0, finite; checked by Expect.Check)
	Encoding     Encoding
	Values       []float32
}

// AppendShard appends the encoding of s to dst and returns the extended
// slice. It refuses, with dst unchanged, what a receiver's DecodeShard would
// reject, so that a sender is never penalized for its own encoding: an
// encoding with no registered codec or no values (ErrMalformed), more
// values than fit in MaxShardBytes (ErrOversize), inconsistent index, count,
// offset and total (ErrShardRange, check 4 of PROTOCOL.md), or a NaN or
// infinite value (ErrNonFinite), such as a diverged model would produce. The
// data weight is not checked here; see Expect.Check.
func AppendShard(dst []byte, s *Shard) ([]byte, error) {
	if s == nil {
		return dst, fmt.Errorf("%w: nil shard", ErrMalformed)
	}
	c, known := CodecFor(s.Encoding)
	n := len(s.Values)
	switch {
	case !known:
		return dst, fmt.Errorf("%w: shard %d of %d: %v is not supported", ErrMalformed, s.Index, s.Count, s.Encoding)
	case n == 0:
		return dst, fmt.Errorf("%w: shard %d of %d has no values", ErrMalformed, s.Index, s.Count)
	case HeaderSize+c.EncodedSize(n) > MaxShardBytes:
		return dst, fmt.Errorf("%w: shard %d of %d: %d values encode to %d bytes, over the %d-byte budget",
			ErrOversize, s.Index, s.Count, n, HeaderSize+c.EncodedSize(n), MaxShardBytes)
	}
	if err := checkGeometry(s.Index, s.Count, s.Offset, s.Total, n); err != nil {
		return dst, err
	}
	if i := firstNonFinite(s.Values); i >= 0 {
		return dst, fmt.Errorf("%w: shard %d of %d: value %d (vector index %d) is %v",
			ErrNonFinite, s.Index, s.Count, i, uint64(s.Offset)+uint64(i), s.Values[i])
	}

	start, size := len(dst), HeaderSize+c.EncodedSize(n)
	dst = slices.Grow(dst, size)
	b := dst[start : start+HeaderSize]
	le := binary.LittleEndian
	copy(b[offMagic:], shardMagic[:])
	b[offVersion] = WireVersion
	b[offEncoding] = byte(s.Encoding)
	le.PutUint16(b[offFlags:], 0)
	copy(b[offRun:], s.RunID[:])
	copy(b[offModel:], s.Model[:])
	le.PutUint64(b[offRound:], s.Round)
	le.PutUint32(b[offIndex:], s.Index)
	le.PutUint32(b[offCount:], s.Count)
	le.PutUint32(b[offOffset:], s.Offset)
	le.PutUint32(b[offTotal:], s.Total)
	le.PutUint16(b[offDegree:], s.Degree)
	le.PutUint16(b[offReserved:], 0)
	le.PutUint32(b[offWeight:], math.Float32bits(s.DataWeight))
	le.PutUint32(b[offPayloadLen:], uint32(size-HeaderSize))
	dst = c.Append(dst[:start+HeaderSize], s.Values)
	if len(dst) != start+size {
		return dst[:start], fmt.Errorf("%w: codec %s wrote %d payload bytes for %d values, not the %d it states",
			ErrMalformed, c.Name(), len(dst)-start-HeaderSize, n, size-HeaderSize)
	}
	le.PutUint32(dst[start+offCRC:], shardChecksum(dst[start:]))
	return dst, nil
}

// DecodeShard parses one encoded shard and checks its structure: size
// (ErrOversize), magic, version, encoding, reserved fields and payload length
// (ErrMalformed), CRC-32C (ErrChecksum), index, count, offset and total
// (ErrShardRange) and that every value is finite (ErrNonFinite). Errors wrap
// those sentinels and name the offending field.
//
// The shard's Values are a fresh slice; b is not retained. DecodeShard
// allocates only in proportion to len(b), whatever the header claims. It
// checks neither run, model, round nor data weight: that is Expect.Check.
func DecodeShard(b []byte) (*Shard, error) {
	if len(b) > MaxShardBytes {
		return nil, fmt.Errorf("%w: %d bytes, over the %d-byte budget", ErrOversize, len(b), MaxShardBytes)
	}
	if len(b) < HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(b), HeaderSize)
	}
	le := binary.LittleEndian
	c, known := CodecFor(Encoding(b[offEncoding]))
	switch {
	case [4]byte(b[offMagic:]) != shardMagic:
		return nil, fmt.Errorf("%w: magic %x at offset 0, want %x (\"GMSH\")", ErrMalformed, b[offMagic:offMagic+4], shardMagic[:])
	case b[offVersion] != WireVersion:
		return nil, fmt.Errorf("%w: version %d at offset %d, want %d", ErrMalformed, b[offVersion], offVersion, WireVersion)
	case !known:
		return nil, fmt.Errorf("%w: unknown encoding %d at offset %d", ErrMalformed, b[offEncoding], offEncoding)
	case le.Uint16(b[offFlags:]) != 0:
		return nil, fmt.Errorf("%w: reserved flags %#04x at offset %d, want 0", ErrMalformed, le.Uint16(b[offFlags:]), offFlags)
	case le.Uint16(b[offReserved:]) != 0:
		return nil, fmt.Errorf("%w: reserved field %#04x at offset %d, want 0", ErrMalformed, le.Uint16(b[offReserved:]), offReserved)
	}
	present := len(b) - HeaderSize
	switch plen := le.Uint32(b[offPayloadLen:]); {
	case uint64(plen) != uint64(present):
		return nil, fmt.Errorf("%w: payload length %d at offset %d, but %d payload bytes present", ErrMalformed, plen, offPayloadLen, present)
	case plen == 0:
		return nil, fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	n, err := c.ValueCount(present)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, c.Name(), err)
	}
	if got, want := le.Uint32(b[offCRC:]), shardChecksum(b); got != want {
		return nil, fmt.Errorf("%w: CRC-32C %08x at offset %d, computed %08x", ErrChecksum, got, offCRC, want)
	}

	s := &Shard{
		Round:      le.Uint64(b[offRound:]),
		Index:      le.Uint32(b[offIndex:]),
		Count:      le.Uint32(b[offCount:]),
		Offset:     le.Uint32(b[offOffset:]),
		Total:      le.Uint32(b[offTotal:]),
		Degree:     le.Uint16(b[offDegree:]),
		DataWeight: math.Float32frombits(le.Uint32(b[offWeight:])),
		Encoding:   Encoding(b[offEncoding]),
	}
	copy(s.RunID[:], b[offRun:])
	copy(s.Model[:], b[offModel:])
	if err := checkGeometry(s.Index, s.Count, s.Offset, s.Total, n); err != nil {
		return nil, err
	}
	values := make([]float32, n)
	if err := c.Decode(values, b[HeaderSize:]); err != nil {
		return nil, fmt.Errorf("%w: %s payload: %v", ErrMalformed, c.Name(), err)
	}
	if i := firstNonFinite(values); i >= 0 {
		return nil, fmt.Errorf("%w: shard %d of %d: value %d (vector index %d) is %v",
			ErrNonFinite, s.Index, s.Count, i, uint64(s.Offset)+uint64(i), values[i])
	}
	s.Values = values
	return s, nil
}

// firstNonFinite is the index of the first NaN or ±Inf in v, or -1.
func firstNonFinite(v []float32) int {
	for i, x := range v {
		if math.Float32bits(x)&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}

// shardChecksum is the CRC-32C of an encoded shard: header bytes before the CRC
// field, then the payload.
func shardChecksum(b []byte) uint32 {
	c := crc32.Update(0, crcTable, b[:offCRC])
	return crc32.Update(c, crcTable, b[HeaderSize:])
}
