package gossip

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// testID is a fresh peer ID, different on every call.
func testID(t *testing.T) peer.ID {
	t.Helper()
	return seededID(t, rand.Uint64())
}

// TestShardValidatorRejectsAndCharges drives the gossipsub validator of a
// neighbor's parameter topic with hostile messages: each must be rejected,
// logged with its reason, counted and charged to the peer that delivered it.
func TestShardValidatorRejectsAndCharges(t *testing.T) {
	var logs bytes.Buffer
	self, sender, stranger := testID(t), testID(t), testID(t)
	scorer := NewScorer()
	frozen := time.Unix(1e9, 0)
	scorer.now = func() time.Time { return frozen } // penalties decay with time; hold it still
	p := &Peer{cfg: PeerConfig{Init: make([]float32, 760), Scorer: scorer}, self: self,
		run: RunID("demo"), model: ModelFingerprint("mlp:64-10-10", 760), log: slog.New(slog.NewTextHandler(&logs, nil))}
	p.round.Store(7)
	validate := p.shardValidator(sender, Window)
	good := encode(t, exampleShard())
	withRound := func(r uint64) []byte { s := exampleShard(); s.Round = r; return encode(t, s) }
	withRun := func() []byte { s := exampleShard(); s.RunID = RunID("other"); return encode(t, s) }
	flipped := bytes.Clone(good)
	flipped[90] ^= 0xff
	cases := []struct {
		name   string
		author peer.ID
		data   []byte
		reason string
	}{
		{"forged author", stranger, good, "author is not the topic's sender"},
		{"garbage", sender, []byte("not a shard"), "malformed"},
		{"corrupted", sender, flipped, "checksum"},
		{"other run", sender, withRun(), "another run"},
	}
	for i, c := range cases {
		logs.Reset()
		msg := &pubsub.Message{Message: &pb.Message{From: []byte(c.author), Data: c.data}}
		if got := validate(context.Background(), sender, msg); got != pubsub.ValidationReject {
			t.Errorf("%s: validator said %v, want reject", c.name, got)
		}
		if msg.ValidatorData != nil {
			t.Errorf("%s: a rejected message carries a decoded shard onward", c.name)
		}
		if !strings.Contains(logs.String(), "rejected a parameter message") || !strings.Contains(logs.String(), c.reason) {
			t.Errorf("%s: log %q lacks the reason %q", c.name, logs.String(), c.reason)
		}
		if score := p.cfg.Scorer.Score(sender); score > -float64(rejectPenalty*(i+1))+1e-6 {
			t.Errorf("%s: forwarder's score %g after %d rejects", c.name, score, i+1)
		}
	}
	if p.stats.rejected != int64(len(cases)) {
		t.Errorf("rejected counter %d, want %d", p.stats.rejected, len(cases))
	}
	// A round outside the window means someone is behind, which honest
	// peers are: dropped, but not charged (see docs/PROTOCOL.md).
	before := p.cfg.Scorer.Score(sender)
	for _, r := range []uint64{1000, 0} {
		p.round.Store(500 * (1 - r/1000)) // far behind the shard, then far ahead of it
		msg := &pubsub.Message{Message: &pb.Message{From: []byte(sender), Data: withRound(r)}}
		if got := validate(context.Background(), sender, msg); got != pubsub.ValidationIgnore || msg.ValidatorData != nil {
			t.Errorf("round %d at local round %d: %v, want ignore", r, p.round.Load(), got)
		}
	}
	if p.cfg.Scorer.Score(sender) != before {
		t.Error("an out-of-window round was charged to the sender")
	}
	p.round.Store(7)
	msg := &pubsub.Message{Message: &pb.Message{From: []byte(sender), Data: good}}
	if validate(context.Background(), sender, msg) != pubsub.ValidationAccept || msg.ValidatorData == nil {
		t.Fatal("a valid shard was not accepted")
	}
}

func TestScorerPenaltyHalvesEveryHalfLife(t *testing.T) {
	s := NewScorer()
	now := time.Unix(1e9, 0)
	s.now = func() time.Time { return now }
	id := testID(t)
	s.Penalize(id)
	s.Penalize(id)
	if got := s.Score(id); got != -20 {
		t.Fatalf("two rejects: score %g, want -20", got)
	}
	now = now.Add(penaltyHalfLife)
	if got := s.Score(id); got < -10.0001 || got > -9.9999 {
		t.Fatalf("after one half-life: score %g, want -10", got)
	}
	if s.Score(testID(t)) != 0 {
		t.Fatal("an unknown peer has a penalty")
	}
}
