package nn

import "fmt"

// Residual adds a shortcut around a main branch: y = main(x) + shortcut(x),
// with the identity as shortcut when there is none (a ResNet block, a
// transformer's attention and MLP sublayers). Its parameters are main's,
// then the shortcut's, each under the name its Named gives.
type Residual[F Float] struct {
	main, shortcut Named[F] // shortcut.Layer nil: identity
	mainParams     int      // the main branch's share of the parameters, which come first
	out, dx        []F
}

// NewResidual wraps main with an identity shortcut, or with shortcut when
// its Layer is not nil (a projection where main changes the shape).
func NewResidual[F Float](main, shortcut Named[F]) (*Residual[F], error) {
	in, out := main.Layer.InSize(), main.Layer.OutSize()
	if shortcut.Layer == nil && in != out {
		return nil, fmt.Errorf("nn: residual %s maps %d values to %d, so it needs a projection shortcut", main.Name, in, out)
	}
	if shortcut.Layer != nil && (shortcut.Layer.InSize() != in || shortcut.Layer.OutSize() != out) {
		return nil, fmt.Errorf("nn: residual shortcut %s maps %d→%d, main branch %d→%d",
			shortcut.Name, shortcut.Layer.InSize(), shortcut.Layer.OutSize(), in, out)
	}
	return &Residual[F]{main: main, shortcut: shortcut, mainParams: NumParams(main.Layer.Params())}, nil
}

// Params implements Layer.
func (r *Residual[F]) Params() []Param {
	ps := prefixed(r.main.Name, r.main.Layer.Params())
	if r.shortcut.Layer != nil {
		ps = append(ps, prefixed(r.shortcut.Name, r.shortcut.Layer.Params())...)
	}
	return ps
}

func (r *Residual[F]) split(p []F) (main, shortcut []F) {
	return p[:r.mainParams], p[r.mainParams:]
}

// InSize implements Layer.
func (r *Residual[F]) InSize() int { return r.main.Layer.InSize() }

// OutSize implements Layer.
func (r *Residual[F]) OutSize() int { return r.main.Layer.OutSize() }

// Forward implements Layer.
func (r *Residual[F]) Forward(p, x []F, n int) []F {
	pm, ps := r.split(p)
	y := r.main.Layer.Forward(pm, x, n)
	r.out = Grow(r.out, len(y))
	s := x
	if r.shortcut.Layer != nil {
		s = r.shortcut.Layer.Forward(ps, x, n)
	}
	for i := range r.out {
		r.out[i] = y[i] + s[i]
	}
	return r.out
}

// Backward implements Layer.
func (r *Residual[F]) Backward(p, g, dy []F, n int, needDX bool) []F {
	pm, ps := r.split(p)
	gm, gs := r.split(g)
	dm := r.main.Layer.Backward(pm, gm, dy, n, needDX)
	ds := dy
	if r.shortcut.Layer != nil {
		ds = r.shortcut.Layer.Backward(ps, gs, dy, n, needDX)
	}
	if !needDX {
		return nil
	}
	r.dx = Grow(r.dx, len(dm))
	for i := range r.dx {
		r.dx[i] = dm[i] + ds[i]
	}
	return r.dx
}

// FLOPs implements Layer.
func (r *Residual[F]) FLOPs() float64 {
	f := r.main.Layer.FLOPs() + float64(r.OutSize())
	if r.shortcut.Layer != nil {
		f += r.shortcut.Layer.FLOPs()
	}
	return f
}

// Clone implements Layer.
func (r *Residual[F]) Clone() Layer[F] {
	c := &Residual[F]{main: Named[F]{Name: r.main.Name, Layer: r.main.Layer.Clone()}, shortcut: Named[F]{Name: r.shortcut.Name}, mainParams: r.mainParams}
	if r.shortcut.Layer != nil {
		c.shortcut.Layer = r.shortcut.Layer.Clone()
	}
	return c
}
