package gossip

import "errors"

// Sentinel errors of the wire format, the validator and the assembler. Every
// error this package returns for a bad message wraps exactly one of them, so
// callers classify with errors.Is and log the wrapped text, which says which
// field was wrong and where.
var (
	// ErrMalformed: the bytes are not a v1 shard or a v3 heartbeat: too
	// short, bad magic, unknown version or encoding, reserved bits set, a
	// length that disagrees with the bytes present, or a heartbeat field
	// out of its bounds (counts, device name, proposed peer IDs).
	ErrMalformed = errors.New("gossip: malformed message")
	// ErrChecksum: the CRC-32C does not match the header and payload.
	ErrChecksum = errors.New("gossip: checksum mismatch")
	// ErrNonFinite: a parameter value is NaN or ±Inf.
	ErrNonFinite = errors.New("gossip: non-finite value")
	// ErrWrongRun: the shard belongs to another training run.
	ErrWrongRun = errors.New("gossip: message for another run")
	// ErrWrongModel: the shard belongs to another model (architecture or
	// parameter count).
	ErrWrongModel = errors.New("gossip: message for another model")
	// ErrShardRange: shard index, count, offset or total are inconsistent
	// with each other, with the other shards of the round, or with the
	// vector length the receiver expects.
	ErrShardRange = errors.New("gossip: shard index, count, offset or total out of range")
	// ErrOversize: the encoded shard exceeds MaxShardBytes.
	ErrOversize = errors.New("gossip: message too large")
	// ErrStaleRound: the shard's round is more than the window behind the
	// receiver's round.
	ErrStaleRound = errors.New("gossip: round too far behind")
	// ErrFutureRound: the shard's round is more than the window ahead of the
	// receiver's round.
	ErrFutureRound = errors.New("gossip: round too far ahead")
	// ErrBadWeight: the data weight is not a finite value in (0, MaxDataWeight].
	ErrBadWeight = errors.New("gossip: data weight not a finite value in (0, 1e6]")
	// ErrBadCoordinate: a heartbeat's network coordinate has a NaN or
	// infinite part, a negative height or error, or a distance beyond ten
	// seconds.
	ErrBadCoordinate = errors.New("gossip: network coordinate out of range")
	// ErrAssemblerFull: the Assembler is at its sender or round bound and
	// refused the shard.
	ErrAssemblerFull = errors.New("gossip: assembler full")
)
