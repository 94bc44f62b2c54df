package gossip

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func exampleShard() *Shard {
	return &Shard{RunID: RunID("demo"), Model: ModelFingerprint("mlp:64-10-10", 760), Round: 7, Index: 1, Count: 3,
		Offset: 4, Total: 760, Degree: 4, DataWeight: 1, Encoding: EncodingFloat32, Values: []float32{0.5, -1.25, 3}}
}

func encode(t testing.TB, s *Shard) []byte {
	t.Helper()
	b, err := AppendShard(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHeartbeatRoundTripAndRejects(t *testing.T) {
	run, model := RunID("r"), ModelFingerprint("m", 5)
	hb := Heartbeat{RunID: run, Model: model, Round: 42, Degree: 4, DataWeight: 1.5, SamplesPerSec: 900}
	b := hb.Marshal()
	got, err := UnmarshalHeartbeat(b, run, model)
	if err != nil || *got != hb {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	bad := map[string][]byte{"short": b[:63], "checksum": func() []byte { c := bytes.Clone(b); c[45] ^= 1; return c }()}
	for name, msg := range bad {
		if _, err := UnmarshalHeartbeat(msg, run, model); err == nil {
			t.Errorf("%s heartbeat accepted", name)
		}
	}
	if _, err := UnmarshalHeartbeat(b, RunID("x"), model); !errors.Is(err, ErrWrongRun) {
		t.Errorf("other run: %v", err)
	}
	neg := hb
	neg.DataWeight = -1
	if _, err := UnmarshalHeartbeat(neg.Marshal(), run, model); !errors.Is(err, ErrBadWeight) {
		t.Errorf("negative weight: %v", err)
	}
}

func FuzzDecodeShard(f *testing.F) {
	f.Add(encode(f, exampleShard()))
	big := exampleShard()
	big.Values = make([]float32, 1000)
	big.Total = 2000
	f.Add(encode(f, big))
	f.Add([]byte("GMSH"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeShard(b)
		if err != nil {
			return
		}
		again, err := AppendShard(nil, s)
		if err != nil {
			t.Fatalf("decoded shard does not re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatal("re-encoding a decoded shard changed its bytes")
		}
		for _, v := range s.Values {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatal("non-finite value accepted")
			}
		}
	})
}
