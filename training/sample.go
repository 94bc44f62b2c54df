package training

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// LanguageModel reports whether the network predicts next tokens (built by
// NewLanguageModel) rather than classifying samples.
func (m *Network) LanguageModel() bool { return m.nextToken }

// Sample continues prompt by n tokens drawn one at a time from the model
// under params, each from softmax(logits/temperature) at the last position
// it has (temperature 0: the most likely token). The model reads the last
// context tokens it has; while it has fewer, the window is padded at the end
// with token 0, which changes nothing, since a causal model's output at a
// position reads only the positions up to it. It returns the n new tokens.
func (m *Network) Sample(params []float32, prompt []int32, n int, temperature float64, rng *rand.Rand) ([]int32, error) {
	switch {
	case !m.nextToken:
		return nil, fmt.Errorf("training: %s is a classifier: it does not generate tokens", m.spec)
	case len(prompt) == 0:
		return nil, fmt.Errorf("training: sampling needs a prompt of at least one token")
	case !(temperature >= 0) || math.IsInf(temperature, 0):
		return nil, fmt.Errorf("training: sampling temperature %g: want a finite value ≥ 0", temperature)
	}
	for i, id := range prompt {
		if id < 0 || int(id) >= m.classes {
			return nil, fmt.Errorf("training: prompt token %d is %d, want an id in [0, %d)", i, id, m.classes)
		}
	}
	m.checkParams(params)
	tokens := append([]int32(nil), prompt...)
	window := make([]float32, m.positions+1)
	probs := make([]float64, m.classes)
	for range n {
		have := tokens[max(0, len(tokens)-m.positions):]
		clear(window)
		for i, id := range have {
			window[i] = float32(id)
		}
		logits := m.body.Forward(params, window, 1)
		last := len(have) - 1
		tokens = append(tokens, draw(logits[last*m.classes:(last+1)*m.classes], temperature, probs, rng))
	}
	return tokens[len(prompt):], nil
}

// SampleText generates n characters from a language model trained on text
// data with vocabulary vocab, at the given temperature, drawn from the
// run's seed. It starts from a newline (the start of a line, where a text
// file's lines begin) or, in a vocabulary without one, from its first
// character, and returns the prompt and what follows it.
func SampleText(m Model, params []float32, vocab Vocab, n int, temperature float64, seed uint64) (string, error) {
	lm, ok := m.(*Network)
	if !ok || !lm.LanguageModel() || vocab == nil {
		return "", fmt.Errorf("training: model %s on this data does not generate text: want a language model (gpt:...) on text data", m.Spec())
	}
	prompt, err := vocab.Encode("\n")
	if err != nil {
		prompt = []int32{0}
	}
	out, err := lm.Sample(params, prompt, n, temperature, rand.New(rand.NewPCG(seed, sampleStream)))
	if err != nil {
		return "", err
	}
	return vocab.Decode(append(prompt, out...)), nil
}

// draw picks a token from softmax(logits/temperature), or the largest logit
// at temperature 0.
func draw(logits []float32, temperature float64, probs []float64, rng *rand.Rand) int32 {
	if temperature == 0 {
		return int32(argmax(logits))
	}
	top := float64(logits[argmax(logits)])
	var z float64
	for j, v := range logits {
		probs[j] = math.Exp((float64(v) - top) / temperature)
		z += probs[j]
	}
	u := rng.Float64() * z
	for j, p := range probs {
		if u < p {
			return int32(j)
		}
		u -= p
	}
	return int32(len(logits) - 1) // rounding left u just above the sum
}
