package training

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeText(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVocabIsTheSortedCharactersOfTheText(t *testing.T) {
	v := NewVocab("ébc\nbaé日")
	if got := string(v); got != "\nabcé日" {
		t.Fatalf("vocabulary %q, want the distinct characters sorted", got)
	}
	ids, err := v.Encode("日é a")
	if err == nil {
		t.Fatalf("encoded a space outside the vocabulary: %v", ids)
	}
	if !strings.Contains(err.Error(), "' '") {
		t.Errorf("error %v does not name the character", err)
	}
	ids, err = v.Encode("a日\né")
	if err != nil || !slices.Equal(ids, []int32{1, 5, 0, 4}) {
		t.Fatalf("Encode: %v, %v", ids, err)
	}
	if got := v.Decode(append(ids, 9)); got != "a日\né\uFFFD" {
		t.Errorf("Decode: %q", got)
	}
}

// 200 characters, context 8: the first 180 train, the last 20 validate;
// windows of 9 at a stride of 8, each labelled with its last character.
func TestTextWindowsSplitByPositionAndLabelTheNextToken(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 200; i++ {
		b.WriteByte("abcdefghijklmnopqrstuvwxyz"[i*7%26])
	}
	text := b.String()
	train, valid, err := TextDataset("t", text, 8)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != (180-1)/8 || valid.Len() != (20-1)/8 {
		t.Fatalf("%d training and %d validation windows, want %d and %d", train.Len(), valid.Len(), 179/8, 19/8)
	}
	for _, c := range []struct {
		d     *Dataset
		start int
	}{{train, 0}, {valid, 180}} {
		if !slices.Equal(c.d.Shape, Shape{9}) || c.d.Classes != 26 || len(c.d.Vocab) != 26 {
			t.Fatalf("shape %s, %d classes, vocabulary of %d; want 9, 26, 26", c.d.Shape, c.d.Classes, len(c.d.Vocab))
		}
		for i := 0; i < c.d.Len(); i++ {
			row := c.d.Row(i)
			ids := make([]int32, len(row))
			for j, v := range row {
				ids[j] = int32(v)
			}
			at := c.start + 8*i
			if got := c.d.Vocab.Decode(ids); got != text[at:at+9] {
				t.Fatalf("window %d reads %q, want %q (characters %d to %d)", i, got, text[at:at+9], at, at+8)
			}
			if c.d.Y[i] != ids[8] {
				t.Fatalf("window %d is labelled %d, want its last token %d", i, c.d.Y[i], ids[8])
			}
		}
	}
}

func TestTextLoaderRefusesBadFilesAndContexts(t *testing.T) {
	empty := writeText(t, "empty.txt", nil)
	latin1 := writeText(t, "latin1.txt", []byte("caf\xe9 au lait"))
	short := writeText(t, "short.txt", []byte(strings.Repeat("ab", 50)))
	one := writeText(t, "one.txt", []byte(strings.Repeat("z", 50)))
	for _, c := range []struct {
		spec    string
		context int
		want    []string
	}{
		{"text:" + empty, 8, []string{empty, "empty"}},
		{"text:" + latin1, 8, []string{latin1, "not UTF-8", "0xe9 at offset 3"}},
		{"text:/no/such/file.txt", 8, []string{"/no/such/file.txt"}},
		{"text:", 8, []string{"missing the file path"}},
		{"text:" + short, 10, []string{"--context 10", "validation part", "holds 10 characters"}},
		{"text:" + short, 100, []string{"--context 100", "training part", "holds 90 characters"}},
		{"text:" + short, 0, []string{"--context 0"}},
		{"text:" + one, 4, []string{"1 distinct characters"}},
		{"fortunes:x", 4, []string{`"fortunes:x"`}},
	} {
		_, _, err := LoadText(c.spec, "", c.context)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s, context %d: error %v, want one saying %q", c.spec, c.context, err, w)
			}
		}
	}
}

// The fortune loader takes the cookie files (those with a strfile .dat
// index), in name order, and leaves out the indexes and the .u8 links.
func TestReadFortunesJoinsTheCookieFilesInNameOrder(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"b": "second\n%\n", "b.dat": "\x00\x02index", "a": "first\n%\n", "a.dat": "\x00\x01index", "notes": "no index\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a", filepath.Join(dir, "a.u8")); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFortunes(dir)
	if err != nil || got != "first\n%\nsecond\n%\n" {
		t.Fatalf("ReadFortunes: %q, %v", got, err)
	}
	if _, err := ReadFortunes(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no fortune files") {
		t.Errorf("an empty directory: %v", err)
	}
}

// The benchmark corpus, when Debian's fortunes package is installed.
func TestFortunesCorpusLoads(t *testing.T) {
	if _, err := os.Stat(filepath.Join(FortunesDir, "fortunes.dat")); err != nil {
		t.Skipf("Debian's fortunes package is not installed (%v): apt-get install fortunes", err)
	}
	train, valid, err := LoadText("fortunes", "", 64)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() < 10000 || valid.Len() < 1000 || train.Classes < 80 {
		t.Errorf("%d training and %d validation windows over %d characters: want a corpus of megabytes", train.Len(), valid.Len(), train.Classes)
	}
}

func TestRecipeTrainsLanguageModelsOnTextOnly(t *testing.T) {
	path := writeText(t, "text.txt", []byte(strings.Repeat("to be or not to be, that is the question. ", 30)))
	r := DefaultRecipe()
	r.Dataset, r.Model, r.Context = "text:"+path, "gpt:1,16,2", 12
	p, err := r.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	if p.Model.Spec() != "gpt:1,16,2-ctx12-vocab15" || !slices.Equal(p.Test.Shape, Shape{13}) {
		t.Errorf("model %s on samples of %s", p.Model.Spec(), p.Test.Shape)
	}
	// Token ids stay ids: nothing standardized them.
	for _, v := range p.Train.X {
		if v != float32(math.Trunc(float64(v))) || v < 0 || int(v) >= p.Train.Classes {
			t.Fatalf("training value %v is not a token id", v)
		}
	}
	var rows strings.Builder
	for i := 0; i < 40; i++ {
		rows.WriteString("0.5,1.5,2.5,3.5,4.5,5.5,6.5,7.5,8.5,9.5,10.5,11.5,12.5," + []string{"0", "1"}[i%2] + "\n")
	}
	csv := writeText(t, "rows.csv", []byte(rows.String()))
	for _, c := range []struct {
		dataset, model string
		context        int
		want           string
	}{
		{"digits", "gpt:1,16,2", 12, "token ids"},
		{"csv:" + csv, "gpt:1,16,2", 12, "needs text data"},
		{"text:" + path, "mlp:32", 12, "classifier"},
		{"text:" + path, "gpt:1,16,2", 500, "--context 500"},
		{"text:" + path, "gpt:1,16,2", 0, "--context 0"},
	} {
		r.Dataset, r.Model, r.Context = c.dataset, c.model, c.context
		if _, err := r.Prepare(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s on %s, context %d: error %v, want one saying %q", c.model, c.dataset, c.context, err, c.want)
		}
	}
}
