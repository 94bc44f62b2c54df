package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTextFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "text.txt")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSimTrainsAGPTOnTextAndSamplesFromIt(t *testing.T) {
	path := writeTextFile(t, strings.Repeat("a rose is a rose is a rose. ", 40))
	dir := t.TempDir()
	code, out, errOut := gradmesh(t, "sim", "--dataset", "text:"+path, "--model", "gpt:1,16,2", "--context", "16",
		"--peers", "2", "--batch", "4", "--optimizer", "adam", "--lr", "0.01", "--epochs", "2",
		"--sample", "40", "--temperature", "0", "--out", dir, "--device", "cpu", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"final validation loss: ", " nats/token · perplexity ", "sample from peer 0 (40 characters, temperature 0, seed 1):\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	_, sample, _ := strings.Cut(out, "seed 1):\n")
	if n := len([]rune(strings.TrimSuffix(sample, "\n"))); n != 41 { // the prompt's first character, then 40
		t.Errorf("sample of %d characters, want 41:\n%q", n, sample)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	var sum struct {
		Loss       float64 `json:"final_test_loss"`
		Perplexity float64 `json:"final_test_perplexity"`
		Config     struct {
			Context int `json:"context"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	if math.Abs(sum.Perplexity-math.Exp(sum.Loss)) > 1e-6*sum.Perplexity || sum.Config.Context != 16 {
		t.Errorf("summary.json: loss %v, perplexity %v, context %d; want exp(loss) and 16", sum.Loss, sum.Perplexity, sum.Config.Context)
	}
}

func TestSimRefusesBadTextInput(t *testing.T) {
	empty := writeTextFile(t, "")
	short := writeTextFile(t, strings.Repeat("ab", 100))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dataset", "text:" + empty, "--model", "gpt:1,8,2"}, empty + " is empty"},
		{[]string{"--dataset", "text:/no/such.txt", "--model", "gpt:1,8,2"}, "/no/such.txt"},
		{[]string{"--dataset", "text:" + short, "--model", "gpt:1,8,2", "--context", "64"}, "--context 64"},
		{[]string{"--dataset", "text:" + short, "--model", "gpt:1,10,4", "--context", "8"}, "width 10 is not a multiple of 4 heads"},
		{[]string{"--dataset", "text:" + short, "--model", "mlp:8", "--context", "8"}, "classifier"},
		{[]string{"--model", "gpt:1,8,2"}, "token ids"},
		{[]string{"--sample", "10"}, "--sample needs a language model"},
		{[]string{"--sample", "-1"}, "--sample -1"},
	} {
		code, _, errOut := gradmesh(t, append([]string{"sim", "--device", "cpu"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("sim %v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, errOut, c.want)
		}
	}
	if _, _, errOut := gradmesh(t, "sim", "-h"); !strings.Contains(errOut, "gpt:LAYERS,WIDTH,HEADS") || !strings.Contains(errOut, "text:PATH") {
		t.Errorf("sim -h does not name the GPT spec and text data:\n%s", errOut)
	}
}
