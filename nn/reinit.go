package nn

import "slices"

// WithInit is layer with the initial values of its parameters chosen by a
// model rather than by each module's default: GPT-2's N(0, 0.02) weights
// and zero biases instead of torch.nn.Linear's fan-in uniform, for one. The
// passes are layer's own; only Params' Init fields change.
func WithInit[F Float](layer Layer[F], init func(Param) Init) Layer[F] {
	return &reinit[F]{Layer: layer, init: init}
}

type reinit[F Float] struct {
	Layer[F]
	init func(Param) Init
}

// Params implements Layer.
func (r *reinit[F]) Params() []Param {
	ps := slices.Clone(r.Layer.Params())
	for i := range ps {
		ps[i].Init = r.init(ps[i])
	}
	return ps
}

// Clone implements Layer.
func (r *reinit[F]) Clone() Layer[F] { return &reinit[F]{Layer: r.Layer.Clone(), init: r.init} }
