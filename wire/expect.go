package wire

import (
	"errors"
	"fmt"
	"math"
)

// MaxDataWeight is the largest data weight (n_i / mean n) a receiver accepts.
const MaxDataWeight = 1e6

// Expect is what a receiver requires of a decoded shard beyond its
// structure: that it belongs to this run and model, describes a vector of
// the right length, is near enough in rounds, and carries a sane weight.
type Expect struct {
	RunID, Model [16]byte
	Total        int    // expected vector length, in values
	Window       uint64 // accepted rounds: [local-Window, local+Window], clamped to [0, MaxUint64]
}

// Check returns nil if s meets e with the receiver at localRound, or the
// first broken rule as an error wrapping its sentinel, in this order:
// ErrWrongRun, ErrWrongModel, ErrShardRange (s.Total != e.Total),
// ErrRoundBehind and ErrRoundAhead (s.Round outside the window), ErrBadWeight
// (DataWeight NaN, infinite, <= 0 or > MaxDataWeight). A nil s is
// ErrMalformed.
//
// Of these, only stale and future rounds can happen to an honest sender;
// see Ignorable.
func (e Expect) Check(s *Shard, localRound uint64) error {
	if s == nil {
		return fmt.Errorf("%w: nil shard", ErrMalformed)
	}
	switch {
	case s.RunID != e.RunID:
		return fmt.Errorf("%w: run id %x, want %x", ErrWrongRun, s.RunID, e.RunID)
	case s.Model != e.Model:
		return fmt.Errorf("%w: model fingerprint %x, want %x", ErrWrongModel, s.Model, e.Model)
	case int64(s.Total) != int64(e.Total):
		return fmt.Errorf("%w: shard %d of %d is of a %d-value vector, want %d values", ErrShardRange, s.Index, s.Count, s.Total, e.Total)
	}
	lo, hi := uint64(0), uint64(math.MaxUint64)
	if localRound > e.Window {
		lo = localRound - e.Window
	}
	if localRound < math.MaxUint64-e.Window {
		hi = localRound + e.Window
	}
	switch {
	case s.Round < lo:
		return fmt.Errorf("%w: round %d, accepting %d..%d at local round %d", ErrRoundBehind, s.Round, lo, hi, localRound)
	case s.Round > hi:
		return fmt.Errorf("%w: round %d, accepting %d..%d at local round %d", ErrRoundAhead, s.Round, lo, hi, localRound)
	case !(s.DataWeight > 0 && s.DataWeight <= MaxDataWeight):
		return fmt.Errorf("%w: data weight %v", ErrBadWeight, s.DataWeight)
	}
	return nil
}

// Ignorable reports whether a validation error is one an honest, correctly
// configured sender can cause: a round outside the window (the sender or the
// receiver is behind). A topic validator answers those with
// pubsub.ValidationIgnore (drop, no penalty) and every other error of
// DecodeShard and Check with pubsub.ValidationReject (drop and penalize the
// peer), as docs/PROTOCOL.md specifies.
func Ignorable(err error) bool {
	return errors.Is(err, ErrRoundBehind) || errors.Is(err, ErrRoundAhead)
}
