package training

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func prepare(t *testing.T, r Recipe) *PreparedRecipe {
	t.Helper()
	p, err := r.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRecipeDrawsAlikeFromOneSeed: two peers that prepare the same recipe
// hold the same data, x₀, partition and shards, and a simulated peer draws
// the same batches; another seed changes them.
func TestRecipeDrawsAlikeFromOneSeed(t *testing.T) {
	r := DefaultRecipe()
	r.Partition = "dirichlet:0.5"
	a, b := prepare(t, r), prepare(t, r)
	if !slices.Equal(a.Init, b.Init) || !slices.Equal(a.Train.X, b.Train.X) || !slices.Equal(a.Test.Y, b.Test.Y) {
		t.Fatal("the same recipe gave different data or initial parameters")
	}
	pa, err := a.Partition(8)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := b.Partition(8)
	for i := range pa {
		if !slices.Equal(pa[i], pb[i]) {
			t.Fatalf("peer %d: partitions differ", i)
		}
	}
	sa, wa, err := a.Shard(3, 8)
	if err != nil {
		t.Fatal(err)
	}
	sb, wb, _ := b.Shard(3, 8)
	if !slices.Equal(sa.Y, sb.Y) || wa != wb {
		t.Fatalf("shard 3 of 8: %d vs %d samples, weight %g vs %g", sa.Len(), sb.Len(), wa, wb)
	}
	la, ga := stepTwice(a, sa, 3)
	lb, gb := stepTwice(b, sb, 3)
	if la != lb || !slices.Equal(ga, gb) {
		t.Fatalf("peer 3 stepped to loss %g vs %g", la, lb)
	}

	r.Seed++
	c := prepare(t, r)
	if slices.Equal(a.Init, c.Init) {
		t.Error("another seed drew the same initial parameters")
	}
	if pc, _ := c.Partition(8); slices.Equal(pa[0], pc[0]) {
		t.Error("another seed dealt peer 0 the same samples")
	}
}

// stepTwice takes two steps of simulated peer i on shard from x₀ and returns
// the second loss and gradient.
func stepTwice(p *PreparedRecipe, shard *Dataset, i int) (float64, []float32) {
	s := NewStepper(shard, p.Recipe.Batch, PeerBatchRand(p.Recipe.Seed, i))
	grad := make([]float32, len(p.Init))
	var b Minibatch
	m := p.Model.Clone()
	s.Gradient(m, p.Init, grad, &b)
	return s.Gradient(m, p.Init, grad, &b), grad
}

// TestSeedStreamsAreFixed pins the streams that every run's numbers depend
// on: changing one changes every result computed so far.
func TestSeedStreamsAreFixed(t *testing.T) {
	p := prepare(t, DefaultRecipe())
	want := make([]float32, len(p.Init))
	p.Model.Init(want, rand.New(rand.NewPCG(1, 0x696e6974)))
	if !slices.Equal(p.Init, want) {
		t.Error("x₀ is no longer drawn from stream 0x696e6974 (\"init\")")
	}
	if got, want := PeerBatchRand(1, 4).Uint64(), rand.New(rand.NewPCG(1, 5)).Uint64(); got != want {
		t.Error("peer 4's batches are no longer drawn from stream 5")
	}
	rng := rand.New(rand.NewPCG(1, 0x6576616c))
	idx := rng.Perm(p.Test.Len())[:50]
	slices.Sort(idx)
	if got := p.EvalSubset(50); !slices.Equal(got.Y, p.Test.Subset(idx).Y) {
		t.Error("the evaluation subset is no longer drawn from stream 0x6576616c (\"eval\")")
	}
}

func TestShardWeights(t *testing.T) {
	p := prepare(t, DefaultRecipe())
	sum, samples := 0.0, 0
	for i := range 5 {
		shard, w, err := p.Shard(i, 5)
		if err != nil {
			t.Fatal(err)
		}
		if want := float64(shard.Len()) * 5 / float64(p.Train.Len()); w != want {
			t.Errorf("shard %d: weight %g, want n_i/n̄ = %g", i, w, want)
		}
		if !slices.Equal(shard.Shape, p.Train.Shape) {
			t.Errorf("shard %d has shape %s, want %s", i, shard.Shape, p.Train.Shape)
		}
		sum += w
		samples += shard.Len()
	}
	if samples != p.Train.Len() || sum < 5-1e-9 || sum > 5+1e-9 {
		t.Errorf("5 shards hold %d of %d samples, weights sum to %g; want all and 5", samples, p.Train.Len(), sum)
	}
	for _, c := range [][2]int{{5, 5}, {-1, 5}} {
		if _, _, err := p.Shard(c[0], c[1]); err == nil || !strings.Contains(err.Error(), "shard") {
			t.Errorf("Shard(%d, %d): error %v, want one naming the shard", c[0], c[1], err)
		}
	}
}

func TestEvalSubset(t *testing.T) {
	p := prepare(t, DefaultRecipe())
	for _, n := range []int{0, -3, p.Test.Len(), p.Test.Len() + 1} {
		if got := p.EvalSubset(n); got != p.Test {
			t.Errorf("EvalSubset(%d) is not the whole test set", n)
		}
	}
	a, b := p.EvalSubset(100), p.EvalSubset(100)
	if a.Len() != 100 || !slices.Equal(a.X, b.X) || !slices.Equal(a.Shape, p.Test.Shape) {
		t.Errorf("EvalSubset(100): %d samples of shape %s, repeatable %v", a.Len(), a.Shape, slices.Equal(a.X, b.X))
	}
}

func TestRecipeCheckNamesTheFlag(t *testing.T) {
	if err := DefaultRecipe().Check(); err != nil {
		t.Fatalf("default recipe: %v", err)
	}
	for _, c := range []struct {
		edit func(*Recipe)
		want string
	}{
		{func(r *Recipe) { r.Mix = "x" }, `--mix "x": want atc`},
		{func(r *Recipe) { r.Batch = 0 }, "--batch 0: "},
		{func(r *Recipe) { r.Warmup = -1 }, "--warmup -1: "},
		{func(r *Recipe) { r.Model = "cnn" }, `unknown model "cnn" (want softmax`},
		{func(r *Recipe) { r.LR = 0 }, "learning rate 0"},
		{func(r *Recipe) { r.Schedule = "linear" }, `schedule "linear"`},
		{func(r *Recipe) { r.Optimizer = "rmsprop" }, `optimizer "rmsprop"`},
		{func(r *Recipe) { r.Momentum = 1.5 }, "momentum 1.5"},
	} {
		r := DefaultRecipe()
		c.edit(&r)
		err := r.Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one saying %q", r, err, c.want)
		}
		if _, err := r.Prepare(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Prepare %+v: error %v, want the check's", r, err)
		}
	}
}

func TestRecipePrepareReportsDataErrors(t *testing.T) {
	for _, c := range []struct {
		edit func(*Recipe)
		want string
	}{
		{func(r *Recipe) { r.Dataset = "imagenet" }, "--dataset"},
		{func(r *Recipe) { r.Dataset = "csv:/no/such.csv" }, "/no/such.csv"},
		{func(r *Recipe) { r.Model = "mlp:0" }, `model "mlp:0"`},
		{func(r *Recipe) { r.TestFraction = 1 }, "test fraction 1"},
	} {
		r := DefaultRecipe()
		c.edit(&r)
		if _, err := r.Prepare(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one saying %q", r, err, c.want)
		}
	}
	r := DefaultRecipe()
	r.Partition = "shards:0"
	if _, err := prepare(t, r).Partition(4); err == nil || !strings.Contains(err.Error(), "0 classes per peer") {
		t.Errorf("shards:0: error %v", err)
	}
}

func TestRecipeDerivedSettings(t *testing.T) {
	r := DefaultRecipe()
	r.Nesterov, r.WeightDecay = true, 1e-4
	if got, want := r.OptimizerConfig(), (OptimizerConfig{Kind: "sgd", Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4}); got != want {
		t.Errorf("OptimizerConfig() = %+v, want %+v", got, want)
	}
	if r.MixOrder() != AdaptThenCombine {
		t.Error("atc is not adapt-then-combine")
	}
	r.Mix = "cta"
	if r.MixOrder() != CombineThenAdapt {
		t.Error("cta is not combine-then-adapt")
	}
	s, err := r.LRSchedule(100)
	if err != nil || s.LR(0) != 0.1 || !(s.LR(99) < 0.001) {
		t.Errorf("cosine over 100 rounds: %v, %v", s, err)
	}
}

// TestRecipeJSONKeys: the keys summary.json's "config" has always used.
func TestRecipeJSONKeys(t *testing.T) {
	raw, err := json.Marshal(DefaultRecipe())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"batch", "context", "dataset", "lr", "mix", "model", "momentum", "nesterov", "optimizer", "partition",
		"schedule", "seed", "test_fraction", "warmup_rounds", "weight_decay"} // data_dir is omitted when empty
	if !slices.Equal(keys, want) {
		t.Errorf("JSON keys %q, want %q", keys, want)
	}
}

// TestStepperDrawsAsTheSamplerDoes: a Stepper's batches are the
// BatchSampler's draws gathered by Dataset.Batch, so moving a shell onto it
// changes no number; a whole pass sees every sample once.
func TestStepperDrawsAsTheSamplerDoes(t *testing.T) {
	p := prepare(t, DefaultRecipe())
	shard, _, err := p.Shard(0, 16)
	if err != nil {
		t.Fatal(err)
	}
	m, ref := p.Model.Clone(), p.Model.Clone()
	s := NewStepper(shard, 16, PeerBatchRand(7, 0))
	sampler := NewBatchSampler(shard.Len(), PeerBatchRand(7, 0))
	grad, want := make([]float32, len(p.Init)), make([]float32, len(p.Init))
	var b Minibatch
	var idx []int
	var x []float32
	var y []int32
	seen := map[int]int{}
	steps := (shard.Len() + 15) / 16
	for k := range 2 * steps {
		loss := s.Gradient(m, p.Init, grad, &b)
		idx = sampler.Next(idx[:0], 16)
		x, y = shard.Batch(idx, x, y)
		if wantLoss := ref.LossGrad(p.Init, want, x, y); loss != wantLoss || !slices.Equal(grad, want) {
			t.Fatalf("step %d: loss %g, want %g", k, loss, wantLoss)
		}
		if k < steps-1 { // the last step of a pass may wrap into the next
			for _, i := range b.index {
				seen[i]++
			}
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("sample %d drawn %d times in the first pass", i, n)
		}
	}
	tiny := shard.Subset([]int{0, 1, 2})
	NewStepper(tiny, 16, PeerBatchRand(7, 0)).Gradient(m, p.Init, grad, &b)
	if len(b.y) != 3 {
		t.Errorf("a batch of 16 from 3 samples held %d", len(b.y))
	}
}
