package wire

import "errors"

// Sentinel errors of the wire format, Expect and the Assembler. Every
// error this package returns for a bad message wraps exactly one of them, so
// callers classify with errors.Is and log the wrapped text, which says which
// field was wrong and where.
var (
	// ErrMalformed: the bytes are not a shard or heartbeat of the version
	// this package reads: too short, bad magic, unknown version or encoding,
	// reserved bits set, a length that disagrees with the bytes present, or
	// a heartbeat field out of its bounds (counts, device name, proposed
	// peer IDs).
	ErrMalformed = errors.New("wire: malformed message")
	// ErrChecksum: the CRC-32C does not match the header and payload.
	ErrChecksum = errors.New("wire: checksum mismatch")
	// ErrNonFinite: a parameter value is NaN or ±Inf.
	ErrNonFinite = errors.New("wire: non-finite value")
	// ErrWrongRun: the shard belongs to another training run.
	ErrWrongRun = errors.New("wire: message for another run")
	// ErrWrongModel: the shard belongs to another model (architecture or
	// parameter count).
	ErrWrongModel = errors.New("wire: message for another model")
	// ErrShardRange: shard index, count, offset or total are inconsistent
	// with each other, with the other shards of the round, or with the
	// vector length the receiver expects.
	ErrShardRange = errors.New("wire: shard index, count, offset or total out of range")
	// ErrOversize: the encoded shard exceeds MaxShardBytes.
	ErrOversize = errors.New("wire: message too large")
	// ErrRoundBehind: the shard's round is more than the window behind the
	// receiver's round.
	ErrRoundBehind = errors.New("wire: round too far behind")
	// ErrRoundAhead: the shard's round is more than the window ahead of the
	// receiver's round.
	ErrRoundAhead = errors.New("wire: round too far ahead")
	// ErrBadWeight: the data weight is not a finite value in (0, MaxDataWeight].
	ErrBadWeight = errors.New("wire: data weight not a finite value in (0, 1e6]")
	// ErrBadCoordinate: a heartbeat's network coordinate has a NaN or
	// infinite part, a negative height or error, or a distance beyond ten
	// seconds.
	ErrBadCoordinate = errors.New("wire: network coordinate out of range")
	// ErrAssemblerFull: the Assembler is at its sender or round bound and
	// refused the shard.
	ErrAssemblerFull = errors.New("wire: assembler full")
)
