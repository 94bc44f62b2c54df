package wire

import (
	"bytes"
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
