package training

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Schedule gives the learning rate for each round (0-based).
type Schedule interface {
	LR(round int) float64
}

// ConstantLR keeps the rate fixed.
type ConstantLR struct{ Base float64 }

func (s ConstantLR) LR(int) float64 { return s.Base }

// StepLR multiplies the rate by Gamma every Every rounds.
type StepLR struct {
	Base  float64
	Every int
	Gamma float64
}

func (s StepLR) LR(round int) float64 { return s.Base * math.Pow(s.Gamma, float64(round/s.Every)) }

// CosineLR ramps up linearly over Warmup rounds, then decays along a half
// cosine to Min at round Total. Decaying to near zero matters more in
// decentralized training than centrally: it closes the consensus gap between
// the peers' models.
type CosineLR struct {
	Base, Min     float64
	Warmup, Total int
}

func (s CosineLR) LR(round int) float64 {
	if round < s.Warmup {
		return s.Base * float64(round+1) / float64(s.Warmup)
	}
	span := max(s.Total-s.Warmup, 1)
	p := min(float64(round-s.Warmup)/float64(span), 1)
	return s.Min + (s.Base-s.Min)*(1+math.Cos(math.Pi*p))/2
}

// ParseSchedule builds a schedule from a flag value: "constant", "cosine" or
// "step:EVERY:GAMMA", for a run of total rounds starting at rate base.
func ParseSchedule(spec string, base float64, warmup, total int) (Schedule, error) {
	if !(base > 0) || math.IsInf(base, 0) {
		return nil, fmt.Errorf("training: learning rate %g must be a finite value > 0", base)
	}
	if warmup < 0 {
		return nil, fmt.Errorf("training: warm-up of %d rounds must be ≥ 0", warmup)
	}
	name, args, _ := strings.Cut(spec, ":")
	switch name {
	case "constant":
		if args == "" {
			return ConstantLR{Base: base}, nil
		}
	case "cosine":
		if args == "" {
			return CosineLR{Base: base, Warmup: warmup, Total: total}, nil
		}
	case "step":
		every, gamma, ok := strings.Cut(args, ":")
		e, err1 := strconv.Atoi(every)
		g, err2 := strconv.ParseFloat(gamma, 64)
		if ok && err1 == nil && err2 == nil && e > 0 && g > 0 && g <= 1 {
			return StepLR{Base: base, Every: e, Gamma: g}, nil
		}
		return nil, fmt.Errorf("training: schedule %q: want step:EVERY:GAMMA with EVERY > 0 rounds and 0 < GAMMA ≤ 1, e.g. step:100:0.1", spec)
	}
	return nil, fmt.Errorf("training: unknown schedule %q (want constant, cosine or step:EVERY:GAMMA)", spec)
}
