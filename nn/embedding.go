package nn

import "fmt"

// Embedding is a GPT's input layer: a token embedding and a learned position
// embedding, summed (wte(idx) + wpe(pos) in nanoGPT, two torch.nn.Embedding
// modules named wte and wpe). A sample is a window of context+1 token ids
// stored as float32 values, as training.NewLanguageModel feeds them; the
// layer reads the first context ids and gives context rows of dim values.
// The last id is only the target of the last position.
//
// Token ids are not differentiable: Backward returns no input gradient.
type Embedding[F Float] struct {
	vocab, dim, context int
	ids                 []int32 // n×context ids of the last Forward
	y                   []F
}

// NewEmbedding embeds windows over a vocabulary of vocab tokens into dim
// values at each of context positions.
func NewEmbedding[F Float](vocab, dim, context int) *Embedding[F] {
	return &Embedding[F]{vocab: vocab, dim: dim, context: context}
}

// Params implements Layer: torch.nn.Embedding's default init, N(0, 1) (a
// GPT draws both at a smaller scale, see WithInit).
func (e *Embedding[F]) Params() []Param {
	return []Param{
		{Name: "wte.weight", Shape: []int{e.vocab, e.dim}, Init: Init{Kind: Normal, Scale: 1}},
		{Name: "wpe.weight", Shape: []int{e.context, e.dim}, Init: Init{Kind: Normal, Scale: 1}},
	}
}

// InSize implements Layer: a window of context+1 ids.
func (e *Embedding[F]) InSize() int { return e.context + 1 }

// OutSize implements Layer.
func (e *Embedding[F]) OutSize() int { return e.context * e.dim }

func (e *Embedding[F]) split(p []F) (wte, wpe []F) {
	return p[:e.vocab*e.dim], p[e.vocab*e.dim:]
}

// Forward implements Layer. An id that is not an integer in [0, vocab) is a
// bug upstream (the text loader writes only vocabulary ids, and
// training.Recipe refuses a language model on other data), so it panics
// with the id rather than reading out of bounds.
func (e *Embedding[F]) Forward(p, x []F, n int) []F {
	wte, wpe := e.split(p)
	e.ids = Grow(e.ids, n*e.context)
	e.y = Grow(e.y, n*e.context*e.dim)
	window := e.context + 1
	for s := 0; s < n; s++ {
		for t := 0; t < e.context; t++ {
			v := x[s*window+t]
			id := int32(v)
			if F(id) != v || id < 0 || int(id) >= e.vocab {
				panic(fmt.Sprintf("nn: embedding: token id %v at sample %d, position %d, want an integer in [0, %d)", v, s, t, e.vocab))
			}
			e.ids[s*e.context+t] = id
			row := e.y[(s*e.context+t)*e.dim : (s*e.context+t+1)*e.dim]
			tok := wte[int(id)*e.dim : (int(id)+1)*e.dim]
			pos := wpe[t*e.dim : (t+1)*e.dim]
			for j := range row {
				row[j] = tok[j] + pos[j]
			}
		}
	}
	return e.y
}

// Backward implements Layer: each row's gradient adds to its token's row of
// wte and its position's row of wpe. needDX is ignored; ids have no
// gradient, and the layer returns nil.
func (e *Embedding[F]) Backward(_, g, dy []F, n int, _ bool) []F {
	gte, gpe := e.split(g)
	clear(g)
	for s := 0; s < n; s++ {
		for t := 0; t < e.context; t++ {
			r := s*e.context + t
			d := dy[r*e.dim : (r+1)*e.dim]
			tok := gte[int(e.ids[r])*e.dim : (int(e.ids[r])+1)*e.dim]
			pos := gpe[t*e.dim : (t+1)*e.dim]
			for j, v := range d {
				tok[j] += v
				pos[j] += v
			}
		}
	}
	return nil
}

// FLOPs implements Layer: one addition per output value.
func (e *Embedding[F]) FLOPs() float64 { return float64(e.context * e.dim) }

// Clone implements Layer.
func (e *Embedding[F]) Clone() Layer[F] { return NewEmbedding[F](e.vocab, e.dim, e.context) }
