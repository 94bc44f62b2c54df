package wire

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

func TestShardValues(t *testing.T) {
	tests := []struct{ budget, want int }{
		{256 << 10, (256<<10 - HeaderSize) / 4},
		{HeaderSize + 4, 1},
		{HeaderSize + 7, 1},
		{HeaderSize + 8, 2},
		{MaxShardBytes, maxShardValues},
		{MaxMessageBytes, maxShardValues},
		{math.MaxInt, maxShardValues},
		{HeaderSize, 1},
		{0, 1},
		{-1, 1},
		{math.MinInt, 1},
	}
	for _, tt := range tests {
		if got := ShardValues(Float32, tt.budget); got != tt.want {
			t.Errorf("ShardValues(Float32, %d) = %d, want %d", tt.budget, got, tt.want)
		}
	}
	for _, budget := range []int{HeaderSize + 4, 1000, 256 << 10, 1 << 20, 1 << 30} {
		n := ShardValues(Float32, budget)
		if size := HeaderSize + 4*n; size > min(budget, MaxShardBytes) {
			t.Errorf("ShardValues(Float32, %d) = %d values encode to %d bytes, over the budget", budget, n, size)
		}
	}
}

func TestSplit(t *testing.T) {
	tmpl := Shard{RunID: RunID("split"), Model: ModelFingerprint("mlp:4", 9), Round: 3, Degree: 5,
		DataWeight: 2.5, Encoding: EncodingFloat32, Index: 99, Count: 99, Offset: 99, Total: 99}
	for _, tt := range []struct{ n, per, count int }{
		{0, 4, 0}, {1, 4, 1}, {4, 4, 1}, {5, 4, 2}, {8, 4, 2}, {9, 4, 3}, {7, 1, 7}, {10, 100, 1}, {10, math.MaxInt, 1},
	} {
		t.Run(fmt.Sprintf("%d by %d", tt.n, tt.per), func(t *testing.T) {
			params := make([]float32, tt.n)
			for i := range params {
				params[i] = float32(i)
			}
			shards := Split(tmpl, params, tt.per)
			if len(shards) != tt.count {
				t.Fatalf("%d shards, want %d", len(shards), tt.count)
			}
			next := 0
			for i, s := range shards {
				if s.RunID != tmpl.RunID || s.Model != tmpl.Model || s.Round != tmpl.Round || s.Degree != tmpl.Degree ||
					s.DataWeight != tmpl.DataWeight || s.Encoding != tmpl.Encoding {
					t.Fatalf("shard %d lost the template's identity fields: %+v", i, s)
				}
				if s.Index != uint32(i) || s.Count != uint32(tt.count) || s.Offset != uint32(next) || s.Total != uint32(tt.n) {
					t.Fatalf("shard %d: index %d count %d offset %d total %d", i, s.Index, s.Count, s.Offset, s.Total)
				}
				if len(s.Values) == 0 || len(s.Values) > tt.per || cap(s.Values) != len(s.Values) {
					t.Fatalf("shard %d: %d values (cap %d), per %d", i, len(s.Values), cap(s.Values), tt.per)
				}
				if &s.Values[0] != &params[next] {
					t.Fatalf("shard %d does not alias params", i)
				}
				if _, err := AppendShard(nil, &s); err != nil {
					t.Fatalf("shard %d does not encode: %v", i, err)
				}
				next += len(s.Values)
			}
			if next != tt.n {
				t.Fatalf("shards cover %d values, want %d", next, tt.n)
			}
		})
	}
	for _, per := range []int{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Split with per %d did not panic", per)
				}
			}()
			Split(tmpl, make([]float32, 3), per)
		}()
	}
}

func TestCheckGeometry(t *testing.T) {
	const m = math.MaxUint32
	for _, g := range []struct {
		index, count, offset, total uint32
		n                           int
		ok                          bool
	}{
		{0, 1, 0, 1, 1, true},
		{1, 3, 4, 760, 3, true},       // the worked example: shards need not be equal
		{0, 1, 0, m, m, true},         // one shard of the largest vector
		{m - 1, m, m - 1, m, 1, true}, // last of m one-value shards
		{2, 3, 0, 10, 8, true},        // index and offset are independent
		{2, 3, 0, 10, 9, false},       // no value left for the other two shards
		{0, 1, 0, 10, 9, false},       // a single shard short of the vector
		{0, 1, 1, 10, 9, false},       // a single shard not at 0
		{0, 1, 0, 10, 0, false},       // no values
		{0, 0, 0, 10, 1, false},       // count 0
		{3, 3, 0, 10, 1, false},       // index = count
		{m, m, 0, m, 1, false},        // index = count at the top
		{0, 11, 0, 10, 1, false},      // more shards than values
		{0, 2, 9, 10, 2, false},       // past the end
		{0, 2, m, 10, 1, false},       // offset past the end
		{0, 1, m, m, 1, false},        // offset + n overflows 32 bits
		{0, 1, 1, m, m, false},        // so does this
	} {
		err := checkGeometry(g.index, g.count, g.offset, g.total, g.n)
		if (err == nil) != g.ok || (err != nil && !errors.Is(err, ErrShardRange)) {
			t.Errorf("checkGeometry(%d, %d, %d, %d, %d) = %v, want ok %v", g.index, g.count, g.offset, g.total, g.n, err, g.ok)
		}
	}
}
