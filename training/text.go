package training

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Text data sets turn a UTF-8 text into windows for a character-level
// language model (NewLanguageModel):
//
//   - Tokens are characters (Unicode code points, not bytes), so a
//     model's vocabulary and its samples read as text. The vocabulary is the
//     sorted distinct characters of the whole file: every peer that reads
//     the same file derives the same ids, with nothing to exchange.
//   - The first 90% of the characters train, the last 10% validate, as
//     nanoGPT splits its character-level Shakespeare: the validation text
//     is text the model has never seen, not windows shuffled out of it.
//   - Each part is cut into windows of context+1 tokens with a stride of
//     context: consecutive windows share one token, so every token of a part
//     but its first is a target exactly once per pass. A window's label (its
//     Dataset.Y) is its last token, the one after its first context tokens:
//     Network.Evaluate's accuracy is then next-token accuracy at full
//     context, and label-based partitions (dirichlet, shards) deal windows
//     out by the character they end on.
//   - Token ids are stored as float32 values and never standardized.

// DefaultContext is the window a language model reads when a recipe names
// none: --context's default.
const DefaultContext = 64

// textValidationFraction is the share of a text, at its end, held out to
// validate.
const textValidationFraction = 0.1

// FortunesDir is where Debian's fortunes package installs its cookie
// files; --dataset fortunes reads them (--data-dir overrides it).
const FortunesDir = "/usr/share/games/fortunes"

// Vocab is a character vocabulary: token i is the character Vocab[i]. It is
// sorted, so two texts with the same characters have the same vocabulary.
type Vocab []rune

// NewVocab returns the sorted distinct characters of text.
func NewVocab(text string) Vocab {
	seen := map[rune]bool{}
	var v Vocab
	for _, r := range text {
		if !seen[r] {
			seen[r] = true
			v = append(v, r)
		}
	}
	slices.Sort(v)
	return v
}

// Encode returns the token ids of s; a character outside the vocabulary is
// an error that names it.
func (v Vocab) Encode(s string) ([]int32, error) {
	ids := make([]int32, 0, len(s))
	for i, r := range s {
		id, ok := slices.BinarySearch(v, r)
		if !ok {
			return nil, fmt.Errorf("training: character %q at byte %d is not in the vocabulary of %d characters", r, i, len(v))
		}
		ids = append(ids, int32(id))
	}
	return ids, nil
}

// Decode returns the text of ids; an id outside the vocabulary reads as
// U+FFFD.
func (v Vocab) Decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		if id < 0 || int(id) >= len(v) {
			b.WriteRune(utf8.RuneError)
			continue
		}
		b.WriteRune(v[id])
	}
	return b.String()
}

// IsTextDataset reports whether a --dataset value names text data, which
// LoadText reads.
func IsTextDataset(spec string) bool {
	name, _, _ := strings.Cut(spec, ":")
	return name == "text" || name == "fortunes"
}

// LoadText returns the training and validation windows of a text data set:
// "text:PATH", any UTF-8 file, or "fortunes", the text files of Debian's
// fortunes package in dataDir (FortunesDir when empty), joined in name
// order. Windows hold context+1 tokens.
func LoadText(spec, dataDir string, context int) (train, valid *Dataset, err error) {
	name, arg, _ := strings.Cut(spec, ":")
	var text string
	switch {
	case name == "text" && arg == "":
		return nil, nil, fmt.Errorf("--dataset text:PATH: missing the file path")
	case name == "text":
		text, err = ReadText(arg)
	case name == "fortunes" && arg == "":
		if dataDir == "" {
			dataDir = FortunesDir
		}
		text, err = ReadFortunes(dataDir)
	default:
		return nil, nil, fmt.Errorf("--dataset %q: want text:PATH or fortunes", spec)
	}
	if err != nil {
		return nil, nil, err
	}
	return TextDataset(spec, text, context)
}

// ReadText reads a UTF-8 text file; an empty file, or one that is not
// UTF-8, is refused with its path.
func ReadText(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("training: text data: %w", err)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("training: text data %s is empty", path)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("training: text data %s is not UTF-8: invalid byte 0x%02x at offset %d", path, b[firstInvalidUTF8(b)], firstInvalidUTF8(b))
	}
	return string(b), nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// ReadFortunes joins the cookie files of a fortune directory in name order:
// the regular files that have a .dat index beside them (strfile's), which
// leaves out the indexes themselves and the .u8 links to the same files.
func ReadFortunes(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("training: --dataset fortunes: %w (install Debian's fortunes package, or point --data-dir at a fortune directory)", err)
	}
	var b strings.Builder
	files := 0
	for _, e := range entries { // ReadDir sorts by name
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".dat") {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name()+".dat")); err != nil {
			continue
		}
		text, err := ReadText(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		b.WriteString(text)
		files++
	}
	if files == 0 {
		return "", fmt.Errorf("training: --dataset fortunes: no fortune files (with .dat indexes) in %s", dir)
	}
	return b.String(), nil
}

// TextDataset tokenizes text and cuts it into training and validation
// windows of context+1 tokens (see the notes at the top of this file). Both
// sets carry the vocabulary. A context that leaves either part without a
// window is an error naming it.
func TextDataset(name, text string, context int) (train, valid *Dataset, err error) {
	if context < 1 {
		return nil, nil, fmt.Errorf("--context %d: want at least 1 token", context)
	}
	vocab := NewVocab(text)
	if len(vocab) < 2 {
		return nil, nil, fmt.Errorf("training: %s has %d distinct characters, a language model needs at least 2", name, len(vocab))
	}
	ids, err := vocab.Encode(text)
	if err != nil {
		return nil, nil, err // not reached: the vocabulary is the text's own
	}
	cut := len(ids) - int(textValidationFraction*float64(len(ids)))
	for _, part := range []struct {
		what   string
		tokens []int32
	}{{"training part", ids[:cut]}, {"validation part (the last 10%)", ids[cut:]}} {
		if len(part.tokens) < context+1 {
			return nil, nil, fmt.Errorf("--context %d: the %s of %s holds %d characters, want at least %d (a window of context+1)",
				context, part.what, name, len(part.tokens), context+1)
		}
	}
	train, valid = textWindows(name, ids[:cut], vocab, context), textWindows(name, ids[cut:], vocab, context)
	if err := train.Validate(); err != nil {
		return nil, nil, err
	}
	return train, valid, valid.Validate()
}

// textWindows cuts tokens into windows of context+1 at a stride of context.
func textWindows(name string, tokens []int32, vocab Vocab, context int) *Dataset {
	n := (len(tokens) - 1) / context
	d := &Dataset{Name: name, Shape: Shape{context + 1}, Dim: context + 1, Classes: len(vocab), Vocab: vocab,
		X: make([]float32, 0, n*(context+1)), Y: make([]int32, 0, n)}
	for i := 0; i < n; i++ {
		w := tokens[i*context : i*context+context+1]
		for _, id := range w {
			d.X = append(d.X, float32(id))
		}
		d.Y = append(d.Y, w[context])
	}
	return d
}
