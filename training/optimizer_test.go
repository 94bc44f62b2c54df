package training

import (
	"math"
	"testing"
)

func TestSGDMatchesClosedForm(t *testing.T) {
	// Constant gradient g: heavy-ball velocity after k steps is g·(1−μ^k)/(1−μ).
	const mu, lr, g = 0.9, 0.1, 2.0
	cases := []struct {
		name string
		cfg  OptimizerConfig
		want float64 // parameter after 3 steps from 0
	}{
		{"plain", OptimizerConfig{Kind: "sgd"}, -3 * lr * g},
		{"momentum", OptimizerConfig{Kind: "sgd", Momentum: mu}, -lr * g * (1 + (1 + mu) + (1 + mu + mu*mu))},
		{"nesterov", OptimizerConfig{Kind: "sgd", Momentum: mu, Nesterov: true},
			-lr * g * ((1 + mu) + (1 + mu*(1+mu)) + (1 + mu*(1+mu+mu*mu)))},
	}
	for _, c := range cases {
		opt := c.cfg.New(1)
		p := []float32{0}
		for range 3 {
			opt.Step(p, []float32{g}, lr)
		}
		if math.Abs(float64(p[0])-c.want) > 1e-5 {
			t.Errorf("%s: x = %g, want %g", c.name, p[0], c.want)
		}
	}
}

func TestWeightDecayShrinksTowardZero(t *testing.T) {
	for _, kind := range []string{"sgd", "adam"} {
		opt := OptimizerConfig{Kind: kind, WeightDecay: 0.5}.New(1)
		p := []float32{1}
		opt.Step(p, []float32{0}, 0.1)
		if !(p[0] < 1 && p[0] > 0.9) {
			t.Errorf("%s: weight decay 0.5 at lr 0.1 moved 1 to %g, want 0.95", kind, p[0])
		}
	}
}

func TestAdamFirstStepIsLearningRate(t *testing.T) {
	// With bias correction, Adam's first step is lr·sign(g) whatever |g|.
	for _, g := range []float32{1e-3, 5, -40} {
		opt := OptimizerConfig{Kind: "adam"}.New(1)
		p := []float32{0}
		opt.Step(p, []float32{g}, 0.01)
		want := -0.01 * math.Copysign(1, float64(g))
		if math.Abs(float64(p[0])-want) > 1e-5 {
			t.Errorf("g=%g: first Adam step %g, want %g", g, p[0], want)
		}
	}
}

func TestOptimizerConfigValidate(t *testing.T) {
	bad := []OptimizerConfig{{Kind: "rmsprop"}, {Kind: "sgd", Momentum: 1}, {Kind: "sgd", Momentum: -0.1},
		{Kind: "sgd", Nesterov: true}, {Kind: "sgd", WeightDecay: -1}, {Kind: "adam", Beta1: 1.5},
		{Kind: "sgd", WeightDecay: math.NaN()}}
	for _, c := range bad {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (OptimizerConfig{Kind: "sgd", Momentum: 0.9, Nesterov: true}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestSchedules(t *testing.T) {
	cos, _ := ParseSchedule("cosine", 1, 0, 100)
	if cos.LR(0) != 1 || math.Abs(cos.LR(50)-0.5) > 1e-12 || cos.LR(100) != 0 || cos.LR(500) != 0 {
		t.Errorf("cosine: %g %g %g", cos.LR(0), cos.LR(50), cos.LR(100))
	}
	warm, _ := ParseSchedule("cosine", 1, 4, 104)
	if warm.LR(0) != 0.25 || warm.LR(3) != 1 || math.Abs(warm.LR(54)-0.5) > 1e-12 {
		t.Errorf("cosine with warm-up: %g %g %g", warm.LR(0), warm.LR(3), warm.LR(54))
	}
	step, _ := ParseSchedule("step:10:0.5", 0.8, 0, 100)
	if step.LR(9) != 0.8 || step.LR(10) != 0.4 || step.LR(25) != 0.2 {
		t.Errorf("step: %g %g %g", step.LR(9), step.LR(10), step.LR(25))
	}
	c, _ := ParseSchedule("constant", 0.3, 0, 10)
	if c.LR(7) != 0.3 {
		t.Errorf("constant: %g", c.LR(7))
	}
	for _, bad := range []string{"", "linear", "step", "step:0:0.5", "step:10:2", "step:x:0.1", "cosine:3"} {
		if _, err := ParseSchedule(bad, 0.1, 0, 10); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
	if _, err := ParseSchedule("cosine", -1, 0, 10); err == nil {
		t.Error("negative learning rate accepted")
	}
}
