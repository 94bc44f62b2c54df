package sims

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A language model's run reports its validation perplexity, exp of the
// loss in nats per token, and hands back every peer's final parameters
// (what --sample generates from); a classifier's run has no perplexity.
func TestTextRunReportsPerplexityAndFinalParameters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "text.txt")
	if err := os.WriteFile(path, []byte(strings.Repeat("a rose is a rose is a rose. ", 40)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := smallSpec()
	s.Peers, s.Dataset, s.Model, s.Context, s.Batch, s.Rounds = 3, "text:"+path, "gpt:1,8,2", 8, 4, 4
	res := runSpec(t, s, 0)
	if res.FinalTestPerplexity == nil || math.Abs(*res.FinalTestPerplexity-math.Exp(res.FinalTestLoss)) > 1e-9 {
		t.Fatalf("perplexity %v for a loss of %v nats, want exp(loss)", res.FinalTestPerplexity, res.FinalTestLoss)
	}
	if len(res.Final) != 3 || len(res.Final[0]) != res.Params {
		t.Fatalf("final parameters: %d vectors, want 3 of %d", len(res.Final), res.Params)
	}
	if plain := runSpec(t, smallSpec(), 0); plain.FinalTestPerplexity != nil {
		t.Errorf("a classifier on digits reports perplexity %v", *plain.FinalTestPerplexity)
	}
}
