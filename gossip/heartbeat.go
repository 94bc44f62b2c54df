package gossip

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// Heartbeat is a peer's periodic announcement on the control topic: where it
// is in training and what it brings. Receivers use Round to notice that they
// fell behind the mesh, and Degree to weigh the sender in Metropolis mixing.
type Heartbeat struct {
	RunID         [16]byte
	Model         [16]byte
	Round         uint64
	Degree        uint16  // neighbors the sender mixes with
	DataWeight    float32 // sender's data share n_i / n̄
	SamplesPerSec float32 // measured local training throughput
}

// HeartbeatSize is the fixed encoded size of a heartbeat.
const HeartbeatSize = 64

var heartbeatMagic = [4]byte{'G', 'M', 'H', 'B'}

// Layout (little-endian), 64 bytes:
//
//	0  magic "GMHB"      4  version u8 (1)   5  reserved u8   6 reserved u16
//	8  run id [16]      24  model [16]      40  round u64
//	48 degree u16       50  reserved u16    52  data weight f32
//	56 samples/s f32    60  CRC-32C (Castagnoli) of bytes 0..59
func (hb *Heartbeat) Marshal() []byte {
	b := make([]byte, HeartbeatSize)
	copy(b[0:4], heartbeatMagic[:])
	b[4] = WireVersion
	copy(b[8:24], hb.RunID[:])
	copy(b[24:40], hb.Model[:])
	binary.LittleEndian.PutUint64(b[40:48], hb.Round)
	binary.LittleEndian.PutUint16(b[48:50], hb.Degree)
	binary.LittleEndian.PutUint32(b[52:56], math.Float32bits(hb.DataWeight))
	binary.LittleEndian.PutUint32(b[56:60], math.Float32bits(hb.SamplesPerSec))
	binary.LittleEndian.PutUint32(b[60:64], crc32.Checksum(b[:60], crcTable))
	return b
}

// UnmarshalHeartbeat decodes and checks a heartbeat for the given run and model.
func UnmarshalHeartbeat(b []byte, run, model [16]byte) (*Heartbeat, error) {
	if len(b) != HeartbeatSize {
		return nil, fmt.Errorf("%w: heartbeat of %d bytes, want %d", ErrMalformed, len(b), HeartbeatSize)
	}
	if [4]byte(b[0:4]) != heartbeatMagic || b[4] != WireVersion {
		return nil, fmt.Errorf("%w: heartbeat magic or version", ErrMalformed)
	}
	if crc32.Checksum(b[:60], crcTable) != binary.LittleEndian.Uint32(b[60:64]) {
		return nil, fmt.Errorf("%w: heartbeat", ErrChecksum)
	}
	hb := &Heartbeat{
		Round:         binary.LittleEndian.Uint64(b[40:48]),
		Degree:        binary.LittleEndian.Uint16(b[48:50]),
		DataWeight:    math.Float32frombits(binary.LittleEndian.Uint32(b[52:56])),
		SamplesPerSec: math.Float32frombits(binary.LittleEndian.Uint32(b[56:60])),
	}
	copy(hb.RunID[:], b[8:24])
	copy(hb.Model[:], b[24:40])
	switch {
	case hb.RunID != run:
		return nil, fmt.Errorf("%w: heartbeat", ErrWrongRun)
	case hb.Model != model:
		return nil, fmt.Errorf("%w: heartbeat", ErrWrongModel)
	case !(hb.DataWeight > 0 && hb.DataWeight <= 1e6):
		return nil, fmt.Errorf("%w: heartbeat data weight %g", ErrBadWeight, hb.DataWeight)
	case !(hb.SamplesPerSec >= 0) || math.IsInf(float64(hb.SamplesPerSec), 0):
		return nil, fmt.Errorf("%w: heartbeat throughput %g", ErrNonFinite, hb.SamplesPerSec)
	}
	return hb, nil
}
