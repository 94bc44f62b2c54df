package wire

import (
	"fmt"
	"math"
)

// ShardValues is how many values go in one shard so that, encoded with c,
// the shard stays within maxBytes bytes, itself capped at MaxShardBytes. A
// 256 KiB budget pipelines well over gossipsub; callers pass theirs. A budget
// too small for even one value yields 1, the smallest shard there is.
func ShardValues(c Codec, maxBytes int) int {
	if maxBytes <= HeaderSize {
		return 1
	}
	budget := min(maxBytes, MaxShardBytes) - HeaderSize
	// EncodedSize grows with n: the largest n within budget, by bisection.
	// No codec spends less than a bit per value.
	lo, hi := 1, 8*MaxShardBytes
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if c.EncodedSize(mid) <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// DefaultShardBytes is the shard budget peers use unless told otherwise:
// 256 KiB shards pipeline well over gossipsub.
const DefaultShardBytes = 256 << 10

// VectorBytes is what one vector of n values costs on the wire, encoded
// with c in shards of at most shardBytes: every shard's header and payload,
// as Split cuts it and AppendShard writes it. The live peer and the
// simulator both price a message with it, so their byte counts agree.
func VectorBytes(c Codec, n, shardBytes int) int {
	per := ShardValues(c, shardBytes)
	full, rest := n/per, n%per
	bytes := full * (HeaderSize + c.EncodedSize(per))
	if rest > 0 {
		bytes += HeaderSize + c.EncodedSize(rest)
	}
	return bytes
}

// Split cuts params into shards of at most per values each: shard i holds
// params[i×per : min((i+1)×per, len(params))]. Each shard copies the
// template's identity fields (RunID, Model, Round, Degree, DataWeight,
// Encoding) and gets its own Index, Count, Offset and Total. The Values
// slices alias params, without copy, with their capacity cut to their length
// so that an append cannot spill into the next shard. Empty params give no
// shards.
//
// Split panics if per < 1 or if params has more than math.MaxUint32 values,
// which the wire format cannot address.
func Split(template Shard, params []float32, per int) []Shard {
	if per < 1 {
		panic(fmt.Sprintf("wire: Split with %d values per shard", per))
	}
	if uint64(len(params)) > math.MaxUint32 {
		panic(fmt.Sprintf("wire: Split of %d values, more than the wire format's %d", len(params), uint64(math.MaxUint32)))
	}
	count := len(params) / per
	if len(params)%per != 0 {
		count++
	}
	shards := make([]Shard, count)
	for i := range shards {
		lo := i * per
		hi := lo + min(per, len(params)-lo)
		s := &shards[i]
		*s = template
		s.Index, s.Count = uint32(i), uint32(count)
		s.Offset, s.Total = uint32(lo), uint32(len(params))
		s.Values = params[lo:hi:hi]
	}
	return shards
}

// checkGeometry checks what one shard of n values can show about itself,
// given that the count shards of a vector tile it and none is empty:
//
//   - n ≥ 1 and 1 ≤ count ≤ total;
//   - index < count;
//   - its values [offset, offset+n) lie inside [0, total);
//   - n ≤ total − (count − 1), leaving a value for each other shard;
//   - a single shard (count = 1) is the whole vector: offset 0, n = total.
//
// Shards of one vector may have different lengths; that they neither overlap
// nor leave gaps is checked when they are assembled (Assembler). It wraps
// ErrShardRange.
func checkGeometry(index, count, offset, total uint32, n int) error {
	end := uint64(offset) + uint64(n)
	var why string
	switch {
	case n < 1:
		why = "no values"
	case count == 0:
		why = "count is 0"
	case index >= count:
		why = "index not below count"
	case count > total:
		why = "more shards than values"
	case end > uint64(total):
		why = "values past the end of the vector"
	case uint64(n) > uint64(total)-uint64(count-1):
		why = "too many values to leave one for each other shard"
	case count == 1 && (offset != 0 || end != uint64(total)):
		why = "a single shard must hold the whole vector"
	default:
		return nil
	}
	return fmt.Errorf("%w: shard %d of %d, values [%d, %d) of %d: %s", ErrShardRange, index, count, offset, end, total, why)
}
