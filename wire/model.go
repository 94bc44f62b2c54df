package wire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// The model-sync exchange serves a peer's current model to a peer that
// joins late or falls behind (over a libp2p stream on a live mesh):
//
//	request:  run id [16], model fingerprint [16]
//	response: round u64, shard count u32, then count × (length u32, shard)
//
// Little-endian throughout; each shard is in the parameter wire format,
// of the response's round. A server answers a request for another run or
// model by closing the stream.

// ModelRequestBytes is the size of a model request.
const ModelRequestBytes = 32

// AppendModelRequest appends a request for run's model to dst.
func AppendModelRequest(dst []byte, run, model [16]byte) []byte {
	return append(append(dst, run[:]...), model[:]...)
}

// ReadModelRequest reads a request and reports whether it asks for this run
// and model.
func ReadModelRequest(r io.Reader, run, model [16]byte) (bool, error) {
	var req [ModelRequestBytes]byte
	if _, err := io.ReadFull(r, req[:]); err != nil {
		return false, err
	}
	return [16]byte(req[:16]) == run && [16]byte(req[16:]) == model, nil
}

// WriteModel writes a model response: params at tmpl's round, cut into
// shards of at most shardBytes, each with tmpl's identity fields.
func WriteModel(w io.Writer, tmpl Shard, params []float32, shardBytes int) error {
	c, ok := CodecFor(tmpl.Encoding)
	if !ok {
		return fmt.Errorf("%w: model response in %v, which has no codec", ErrMalformed, tmpl.Encoding)
	}
	shards := Split(tmpl, params, ShardValues(c, shardBytes))
	bw := bufio.NewWriter(w)
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:8], tmpl.Round)
	binary.LittleEndian.PutUint32(hdr[8:], uint32(len(shards)))
	_, _ = bw.Write(hdr[:])
	var buf []byte
	for i := range shards {
		var err error
		if buf, err = AppendShard(buf[:0], &shards[i]); err != nil {
			return err
		}
		binary.LittleEndian.PutUint32(hdr[:4], uint32(len(buf)))
		_, _ = bw.Write(hdr[:4])
		_, _ = bw.Write(buf)
	}
	return bw.Flush()
}

// MaxModelRound bounds the round a model response may claim: far beyond
// any run, and small enough that round arithmetic cannot overflow.
const MaxModelRound = 1 << 40

// ReadModel reads a model response for a vector of expect.Total values of
// expect's run and model. Every shard must decode, pass expect at the
// response's round (expect.Window is ignored: all shards carry that round),
// and together the shards must tile the whole vector.
func ReadModel(r io.Reader, expect Expect) (round uint64, params []float32, err error) {
	br := bufio.NewReader(r)
	var hdr [12]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return 0, nil, err
	}
	round = binary.LittleEndian.Uint64(hdr[:8])
	count := binary.LittleEndian.Uint32(hdr[8:])
	if round >= MaxModelRound || count == 0 || int64(count) > int64(expect.Total) {
		return 0, nil, fmt.Errorf("%w: model response claims round %d in %d shards", ErrMalformed, round, count)
	}
	expect.Window = 0
	asm := NewAssembler(expect.Total, 1, 1)
	for range count {
		if _, err := io.ReadFull(br, hdr[:4]); err != nil {
			return 0, nil, err
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n > MaxMessageBytes {
			return 0, nil, fmt.Errorf("%w: model shard of %d bytes", ErrOversize, n)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			return 0, nil, err
		}
		sh, err := DecodeShard(buf)
		if err != nil {
			return 0, nil, err
		}
		if err := expect.Check(sh, round); err != nil {
			return 0, nil, err
		}
		if _, err := asm.Add("server", sh); err != nil {
			return 0, nil, err
		}
	}
	t, ok := asm.Take("server", round)
	if !ok || t.Spans != nil {
		return 0, nil, fmt.Errorf("%w: model response incomplete (%d of %d shards)", ErrMalformed, t.Shards, t.Of)
	}
	return round, t.Values, nil
}
