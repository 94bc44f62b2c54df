package wire

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

func TestExpectCheck(t *testing.T) {
	e := Expect{RunID: RunID("r"), Model: ModelFingerprint("mlp:2", 20), Total: 20, Window: 3}
	ok := func() *Shard {
		return &Shard{RunID: e.RunID, Model: e.Model, Round: 10, Index: 0, Count: 1, Total: 20, DataWeight: 1,
			Encoding: EncodingFloat32, Values: make([]float32, 20)}
	}
	nextAfter1e6 := math.Nextafter32(MaxDataWeight, math.MaxFloat32)
	tests := []struct {
		name  string
		edit  func(*Shard)
		local uint64
		want  error
	}{
		{"valid", func(*Shard) {}, 10, nil},
		{"window low edge", func(*Shard) {}, 13, nil},
		{"window high edge", func(*Shard) {}, 7, nil},
		{"wrong run", func(s *Shard) { s.RunID = RunID("other") }, 10, ErrWrongRun},
		{"wrong model", func(s *Shard) { s.Model = ModelFingerprint("mlp:2", 21) }, 10, ErrWrongModel},
		{"total mismatch", func(s *Shard) { s.Total = 21 }, 10, ErrShardRange},
		{"stale", func(*Shard) {}, 14, ErrRoundBehind},
		{"future", func(*Shard) {}, 6, ErrRoundAhead},
		{"far future at round 0", func(s *Shard) { s.Round = math.MaxUint64 }, 0, ErrRoundAhead},
		{"round 0 at round 0", func(s *Shard) { s.Round = 0 }, 0, nil},
		{"stale near the top", func(s *Shard) { s.Round = math.MaxUint64 - 4 }, math.MaxUint64, ErrRoundBehind},
		{"top at the top", func(s *Shard) { s.Round = math.MaxUint64 }, math.MaxUint64 - 1, nil},
		{"weight 0", func(s *Shard) { s.DataWeight = 0 }, 10, ErrBadWeight},
		{"weight -0", func(s *Shard) { s.DataWeight = float32(math.Copysign(0, -1)) }, 10, ErrBadWeight},
		{"weight negative", func(s *Shard) { s.DataWeight = -1 }, 10, ErrBadWeight},
		{"weight NaN", func(s *Shard) { s.DataWeight = float32(math.NaN()) }, 10, ErrBadWeight},
		{"weight +Inf", func(s *Shard) { s.DataWeight = float32(math.Inf(1)) }, 10, ErrBadWeight},
		{"weight over 1e6", func(s *Shard) { s.DataWeight = nextAfter1e6 }, 10, ErrBadWeight},
		{"weight 1e6", func(s *Shard) { s.DataWeight = MaxDataWeight }, 10, nil},
		{"weight tiny", func(s *Shard) { s.DataWeight = math.SmallestNonzeroFloat32 }, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok()
			tt.edit(s)
			err := e.Check(s, tt.local)
			if (tt.want == nil) != (err == nil) || !errors.Is(err, tt.want) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
		})
	}
	if err := e.Check(nil, 0); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Check(nil) = %v, want ErrMalformed", err)
	}
	exact := e
	exact.Window = 0
	for local, want := range map[uint64]error{9: ErrRoundAhead, 10: nil, 11: ErrRoundBehind} {
		if err := exact.Check(ok(), local); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("window 0 at local round %d: %v, want %v", local, err, want)
		}
	}
}

func TestIgnorable(t *testing.T) {
	for _, err := range []error{ErrRoundBehind, ErrRoundAhead, fmt.Errorf("%w: round 3", ErrRoundBehind)} {
		if !Ignorable(err) {
			t.Errorf("Ignorable(%v) = false", err)
		}
	}
	for _, err := range []error{nil, ErrMalformed, ErrChecksum, ErrNonFinite, ErrWrongRun, ErrWrongModel,
		ErrShardRange, ErrOversize, ErrBadWeight, ErrAssemblerFull, errors.New("other")} {
		if Ignorable(err) {
			t.Errorf("Ignorable(%v) = true", err)
		}
	}
}
