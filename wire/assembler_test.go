package wire

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/gradmesh/gradmesh/training"
)

func randomVector(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// shardsOf splits v for round and sends every shard through the wire, as a
// receiver would see them.
func shardsOf(t testing.TB, v []float32, round uint64, per int) []*Shard {
	t.Helper()
	tmpl := Shard{RunID: RunID("asm"), Model: ModelFingerprint("mlp:1", len(v)), Round: round, Degree: 3,
		DataWeight: 1, Encoding: EncodingFloat32}
	var out []*Shard
	for _, s := range Split(tmpl, v, per) {
		d, err := DecodeShard(mustEncode(t, &s))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func TestAssemblerRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range []struct{ total, per int }{{1, 1}, {10, 3}, {1000, 1000}, {1000, 999}, {100_003, ShardValues(Float32, 16<<10)}} {
		t.Run(fmt.Sprintf("%d by %d", tt.total, tt.per), func(t *testing.T) {
			a := NewAssembler(tt.total, 4, 4)
			want := map[string][]float32{}
			var all []struct {
				sender string
				s      *Shard
			}
			for _, sender := range []string{"alice", "bob", "carol"} {
				want[sender] = randomVector(rng, tt.total)
				for _, s := range shardsOf(t, want[sender], 9, tt.per) {
					all = append(all, struct {
						sender string
						s      *Shard
					}{sender, s})
				}
			}
			rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
			left := map[string]int{}
			for _, x := range all {
				left[x.sender]++
			}
			for _, x := range all {
				left[x.sender]--
				complete, err := a.Add(x.sender, x.s)
				if err != nil {
					t.Fatal(err)
				}
				if complete != (left[x.sender] == 0) {
					t.Fatalf("%s: complete = %v with %d shards to go", x.sender, complete, left[x.sender])
				}
			}
			for sender, v := range want {
				tk, ok := a.Take(sender, 9)
				if !ok || tk.Shards != tk.Of || tk.Spans != nil || !slices.Equal(tk.Values, v) {
					t.Fatalf("%s: Take = %d of %d shards, ok %v, spans %v, vector equal %v", sender, tk.Shards, tk.Of, ok, tk.Spans, slices.Equal(tk.Values, v))
				}
				if _, ok := a.Take(sender, 9); ok {
					t.Fatalf("%s: second Take succeeded", sender)
				}
			}
		})
	}
}

func TestAssemblerPartialSaysWhatArrived(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const total, per = 23, 5
	v := randomVector(rng, total)
	shards := shardsOf(t, v, 2, per) // 5 shards: [0,5) [5,10) [10,15) [15,20) [20,23)
	a := NewAssembler(total, 1, 1)
	for _, i := range []int{4, 1} {
		if complete, err := a.Add("p", shards[i]); complete || err != nil {
			t.Fatalf("Add shard %d = %v, %v", i, complete, err)
		}
	}
	tk, ok := a.Take("p", 2)
	if !ok || tk.Shards != 2 || tk.Of != 5 {
		t.Fatalf("Take = %d of %d, ok %v; want 2 of 5", tk.Shards, tk.Of, ok)
	}
	want := make([]float32, total)
	copy(want[5:10], v[5:10])
	copy(want[20:], v[20:])
	if !slices.Equal(tk.Values, want) {
		t.Fatalf("partial vector\n got %v\nwant %v", tk.Values, want)
	}
	if wantSpans := []training.Span{{Lo: 5, Hi: 10}, {Lo: 20, Hi: 23}}; !slices.Equal(tk.Spans, wantSpans) {
		t.Fatalf("spans %v, want %v", tk.Spans, wantSpans)
	}
	if _, ok := a.Take("p", 3); ok {
		t.Fatal("Take of a round nothing arrived for succeeded")
	}
	if _, ok := a.Take("nobody", 2); ok {
		t.Fatal("Take from an unknown sender succeeded")
	}
}

func TestAssemblerDuplicates(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	v := randomVector(rng, 10)
	shards := shardsOf(t, v, 1, 4) // 3 shards
	a := NewAssembler(10, 1, 2)
	for range 3 {
		if complete, err := a.Add("p", shards[0]); complete || err != nil {
			t.Fatalf("duplicate Add = %v, %v", complete, err)
		}
	}
	// Same index, other values: the first copy stays.
	forged := *shards[0]
	forged.Values = []float32{9, 9, 9, 9}
	if _, err := a.Add("p", &forged); err != nil {
		t.Fatal(err)
	}
	for _, s := range shards[1:] {
		if _, err := a.Add("p", s); err != nil {
			t.Fatal(err)
		}
	}
	if complete, err := a.Add("p", shards[2]); !complete || err != nil {
		t.Fatalf("duplicate of a complete round's shard = %v, %v; want true, nil", complete, err)
	}
	tk, ok := a.Take("p", 1)
	if !ok || tk.Shards != 3 || tk.Of != 3 || !slices.Equal(tk.Values, v) {
		t.Fatalf("Take = %v, %d of %d, %v; want %v", tk.Values, tk.Shards, tk.Of, ok, v)
	}
	// Late copies of a taken round are dropped, not collected again.
	for _, s := range shards {
		if complete, err := a.Add("p", s); complete || err != nil {
			t.Fatalf("Add after Take = %v, %v; want false, nil", complete, err)
		}
	}
	if _, ok := a.Take("p", 1); ok {
		t.Fatal("a taken round was collected again")
	}
}

func TestAssemblerRejects(t *testing.T) {
	piece := func(index, count, offset uint32, n int) *Shard {
		return &Shard{Round: 1, Index: index, Count: count, Offset: offset, Total: 100, Values: make([]float32, n)}
	}
	tests := []struct {
		name  string
		first []*Shard
		then  *Shard
		want  error
	}{
		{"total mismatch", nil, shardsOf(t, make([]float32, 99), 1, 34)[0], ErrShardRange},
		{"index past count", nil, piece(3, 3, 0, 34), ErrShardRange},
		{"values past total", nil, piece(1, 2, 50, 51), ErrShardRange},
		{"no values", nil, piece(0, 1, 0, 0), ErrShardRange},
		{"more shards than values", nil, piece(0, 101, 0, 1), ErrShardRange},
		{"nil shard", nil, nil, ErrMalformed},
		{"other count", []*Shard{piece(0, 3, 0, 34)}, piece(1, 2, 50, 50), ErrShardRange},
		{"overlap beyond total", []*Shard{piece(0, 2, 0, 60)}, piece(1, 2, 50, 50), ErrShardRange},
		{"all arrived, gap", []*Shard{piece(0, 2, 0, 40)}, piece(1, 2, 50, 50), ErrShardRange},
		{"all arrived, overlap and gap", []*Shard{piece(0, 3, 0, 40), piece(1, 3, 30, 30)}, piece(2, 3, 70, 30), ErrShardRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAssembler(100, 2, 2)
			for _, s := range tt.first {
				if _, err := a.Add("p", s); err != nil {
					t.Fatal(err)
				}
			}
			if complete, err := a.Add("p", tt.then); complete || !errors.Is(err, tt.want) {
				t.Fatalf("Add = %v, %v; want false, %v", complete, err, tt.want)
			}
		})
	}
}

// Shards of different lengths assemble as long as they tile the vector; a
// round whose shards overlap is discarded, whether it completes or is taken
// partial.
func TestAssemblerUnequalShards(t *testing.T) {
	v := make([]float32, 10)
	for i := range v {
		v[i] = float32(i + 1)
	}
	piece := func(round uint64, index, count uint32, lo, hi int) *Shard {
		return &Shard{Round: round, Index: index, Count: count, Offset: uint32(lo), Total: 10, Values: v[lo:hi]}
	}
	a := NewAssembler(10, 1, 4)
	for _, s := range []*Shard{piece(1, 2, 3, 7, 10), piece(1, 0, 3, 0, 2)} {
		if complete, err := a.Add("p", s); complete || err != nil {
			t.Fatalf("Add = %v, %v", complete, err)
		}
	}
	if complete, err := a.Add("p", piece(1, 1, 3, 2, 7)); !complete || err != nil {
		t.Fatalf("last shard: %v, %v; want complete", complete, err)
	}
	if tk, ok := a.Take("p", 1); !ok || tk.Shards != 3 || tk.Of != 3 || !slices.Equal(tk.Values, v) {
		t.Fatalf("Take = %v, %d of %d, %v", tk.Values, tk.Shards, tk.Of, ok)
	}

	// Overlapping shards, taken before the round completes: discarded.
	for _, s := range []*Shard{piece(2, 0, 4, 0, 5), piece(2, 1, 4, 3, 6)} {
		if _, err := a.Add("p", s); err != nil {
			t.Fatal(err)
		}
	}
	if tk, ok := a.Take("p", 2); ok || tk.Shards != 2 || tk.Of != 4 {
		t.Fatalf("Take of overlapping shards = %d of %d, %v; want not ok", tk.Shards, tk.Of, ok)
	}
	if _, ok := a.Take("p", 2); ok {
		t.Fatal("a discarded round was taken")
	}
	if complete, err := a.Add("p", piece(2, 2, 4, 6, 10)); complete || err != nil {
		t.Fatalf("shard of a discarded round: %v, %v; want ignored", complete, err)
	}
}

func TestAssemblerBounds(t *testing.T) {
	v := make([]float32, 12)
	shard := func(round uint64) *Shard { return shardsOf(t, v, round, 4)[0] }
	a := NewAssembler(12, 2, 3)

	// Senders: a third is refused until a slot frees.
	for _, sender := range []string{"a", "b"} {
		if _, err := a.Add(sender, shard(10)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Add("c", shard(10)); !errors.Is(err, ErrAssemblerFull) {
		t.Fatalf("third sender: %v, want ErrAssemblerFull", err)
	}
	a.Forget("b")
	if _, err := a.Add("c", shard(10)); err != nil {
		t.Fatalf("sender after Forget: %v", err)
	}

	// Rounds: with 3 held, a fourth is refused, newer or older; the held ones stay.
	for _, r := range []uint64{11, 12} {
		if _, err := a.Add("a", shard(r)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []uint64{9, 13} {
		if _, err := a.Add("a", shard(r)); !errors.Is(err, ErrAssemblerFull) {
			t.Fatalf("a fourth round %d: %v, want ErrAssemblerFull", r, err)
		}
	}
	if _, err := a.Add("c", shard(13)); err != nil {
		t.Fatalf("another sender's round refused: %v", err)
	}
	for _, r := range []uint64{10, 11, 12} {
		if _, ok := a.Take("a", r); !ok {
			t.Fatalf("round %d lost", r)
		}
	}
	// Taken rounds are tombstones: they still count until dropped.
	if _, err := a.Add("a", shard(13)); !errors.Is(err, ErrAssemblerFull) {
		t.Fatalf("round 13 with three tombstones held: %v, want ErrAssemblerFull", err)
	}
	a.DropBefore(11)
	if _, err := a.Add("a", shard(13)); err != nil {
		t.Fatalf("round 13 after DropBefore(11): %v", err)
	}

	// DropBefore frees rounds, taken or not, and emptied senders.
	a.DropBefore(14)
	if n := len(a.senders); n != 0 {
		t.Fatalf("%d senders left after DropBefore", n)
	}
	for _, sender := range []string{"x", "y"} {
		if _, err := a.Add(sender, shard(20)); err != nil {
			t.Fatal(err)
		}
	}
	a.DropBefore(20)
	if len(a.senders) != 2 {
		t.Fatal("DropBefore dropped rounds it should keep")
	}
}

// Under a random stream of shards from many senders and rounds the
// assembler never holds more than its bounds.
func TestAssemblerBoundsHold(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const total, maxSenders, maxRounds = 64, 3, 4
	a := NewAssembler(total, maxSenders, maxRounds)
	v := make([]float32, total)
	for i := range 5000 {
		sender := fmt.Sprint("peer", rng.IntN(10))
		per := []int{8, 16, 20, 64}[rng.IntN(4)]
		shards := shardsOf(t, v, uint64(rng.IntN(50)), per)
		_, err := a.Add(sender, shards[rng.IntN(len(shards))])
		if err != nil && !errors.Is(err, ErrAssemblerFull) && !errors.Is(err, ErrShardRange) {
			t.Fatal(err)
		}
		if i%7 == 0 {
			a.Take(sender, uint64(rng.IntN(50)))
		}
		if i%500 == 0 {
			a.DropBefore(uint64(rng.IntN(20)))
		}
		if len(a.senders) > maxSenders {
			t.Fatalf("%d senders held", len(a.senders))
		}
		for s, rounds := range a.senders {
			if len(rounds) > maxRounds {
				t.Fatalf("%d rounds held for %s", len(rounds), s)
			}
		}
	}
}

// A small shard claiming a huge count or vector costs memory for what it
// carries, not for what it claims.
func TestAssemblerMemoryFollowsData(t *testing.T) {
	const total = 50_000_000
	a := NewAssembler(total, 64, 64)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for sender := range 64 {
		for round := range 64 {
			s := &Shard{Round: uint64(round), Index: uint32(round), Count: total, Offset: uint32(round), Total: total,
				Values: []float32{1}}
			if _, err := a.Add(fmt.Sprint(sender), s); err != nil {
				t.Fatal(err)
			}
		}
	}
	runtime.ReadMemStats(&after)
	if used := after.TotalAlloc - before.TotalAlloc; used > 8<<20 {
		t.Fatalf("4096 one-value shards claiming %d-value vectors allocated %d bytes", total, used)
	}
}

func TestAssemblerConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	v := randomVector(rng, 1000)
	shards := shardsOf(t, v, 5, 10)
	a := NewAssembler(len(v), 8, 2)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			sender := fmt.Sprint("w", w)
			for _, s := range shards {
				if _, err := a.Add(sender, s); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for w := range 8 {
		if tk, ok := a.Take(fmt.Sprint("w", w), 5); !ok || tk.Shards != tk.Of || !slices.Equal(tk.Values, v) {
			t.Fatalf("sender %d: %d of %d, ok %v", w, tk.Shards, tk.Of, ok)
		}
	}
}

func TestNewAssemblerClampsBounds(t *testing.T) {
	a := NewAssembler(-5, 0, -1)
	if a.total != 0 || a.maxSenders != 1 || a.maxRounds != 1 {
		t.Fatalf("NewAssembler(-5, 0, -1) = total %d, %d senders, %d rounds", a.total, a.maxSenders, a.maxRounds)
	}
	if _, err := a.Add("p", &Shard{Count: 1, Total: 0, Values: []float32{float32(math.Pi)}}); !errors.Is(err, ErrShardRange) {
		t.Fatalf("Add to an empty-vector assembler: %v", err)
	}
}
