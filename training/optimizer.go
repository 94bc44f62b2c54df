package training

import (
	"fmt"
	"math"
)

// Optimizer turns a gradient into a parameter update. It keeps per-parameter
// state (momentum, moments), so each peer owns one.
type Optimizer interface {
	// Step updates params in place from grad at learning rate lr.
	Step(params, grad []float32, lr float64)
}

// OptimizerConfig names an optimizer and its hyper-parameters; New makes a
// fresh stateful instance for one parameter vector.
type OptimizerConfig struct {
	Kind        string  // "sgd" or "adam"
	Momentum    float64 // sgd: heavy-ball coefficient, 0 for plain SGD
	Nesterov    bool    // sgd: Nesterov's look-ahead form of momentum
	WeightDecay float64 // L2 penalty for sgd; decoupled (AdamW) for adam
	Beta1       float64 // adam, default 0.9
	Beta2       float64 // adam, default 0.999
	Epsilon     float64 // adam, default 1e-8
}

// Validate reports hyper-parameters that cannot train.
func (c OptimizerConfig) Validate() error {
	switch c.Kind {
	case "sgd", "adam":
	default:
		return fmt.Errorf("training: unknown optimizer %q (want sgd or adam)", c.Kind)
	}
	if !(c.Momentum >= 0 && c.Momentum < 1) {
		return fmt.Errorf("training: momentum %g must be in [0, 1)", c.Momentum)
	}
	if c.Nesterov && c.Momentum == 0 {
		return fmt.Errorf("training: Nesterov momentum needs a momentum > 0")
	}
	if !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0) {
		return fmt.Errorf("training: weight decay %g must be a finite value ≥ 0", c.WeightDecay)
	}
	for _, b := range []float64{c.Beta1, c.Beta2} {
		if !(b >= 0 && b < 1) {
			return fmt.Errorf("training: Adam beta %g must be in [0, 1)", b)
		}
	}
	return nil
}

// New returns a fresh optimizer for a vector of n parameters.
func (c OptimizerConfig) New(n int) Optimizer {
	if c.Kind == "adam" {
		a := &adam{cfg: c, m: make([]float32, n), v: make([]float32, n)}
		if a.cfg.Beta1 == 0 {
			a.cfg.Beta1 = 0.9
		}
		if a.cfg.Beta2 == 0 {
			a.cfg.Beta2 = 0.999
		}
		if a.cfg.Epsilon == 0 {
			a.cfg.Epsilon = 1e-8
		}
		return a
	}
	s := &sgd{cfg: c}
	if c.Momentum > 0 {
		s.velocity = make([]float32, n)
	}
	return s
}

type sgd struct {
	cfg      OptimizerConfig
	velocity []float32
}

// Step: g ← grad + λ·x; v ← μ·v + g; x ← x − lr·(g + μ·v) with Nesterov, x − lr·v otherwise.
func (s *sgd) Step(params, grad []float32, lr float64) {
	wd, mu, eta := float32(s.cfg.WeightDecay), float32(s.cfg.Momentum), float32(lr)
	if s.velocity == nil {
		for i, g := range grad {
			params[i] -= eta * (g + wd*params[i])
		}
		return
	}
	v := s.velocity
	for i, g := range grad {
		g += wd * params[i]
		v[i] = mu*v[i] + g
		if s.cfg.Nesterov {
			g += mu * v[i]
		} else {
			g = v[i]
		}
		params[i] -= eta * g
	}
}

type adam struct {
	cfg  OptimizerConfig
	m, v []float32
	t    int
}

// Step is AdamW: moments with bias correction, weight decay applied to the
// parameters directly rather than through the gradient.
func (a *adam) Step(params, grad []float32, lr float64) {
	a.t++
	b1, b2 := float32(a.cfg.Beta1), float32(a.cfg.Beta2)
	c1 := 1 - math.Pow(a.cfg.Beta1, float64(a.t))
	c2 := 1 - math.Pow(a.cfg.Beta2, float64(a.t))
	step := float32(lr * math.Sqrt(c2) / c1)
	eps := float32(a.cfg.Epsilon * math.Sqrt(c2))
	decay := float32(1 - lr*a.cfg.WeightDecay)
	for i, g := range grad {
		a.m[i] = b1*a.m[i] + (1-b1)*g
		a.v[i] = b2*a.v[i] + (1-b2)*g*g
		params[i] = params[i]*decay - step*a.m[i]/(float32(math.Sqrt(float64(a.v[i])))+eps)
	}
}
