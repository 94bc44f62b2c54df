package gossip

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/internal/testpeer"
	"github.com/gradmesh/gradmesh/wire"
)

// TestShardValidatorRejectsAndCharges drives the gossipsub validator of a
// neighbor's parameter topic with hostile messages: each must be rejected,
// logged with its reason, counted and charged to the peer that delivered it.
func TestShardValidatorRejectsAndCharges(t *testing.T) {
	var logs bytes.Buffer
	self, sender, stranger := testpeer.Fresh(t), testpeer.Fresh(t), testpeer.Fresh(t)
	scorer := NewScorer()
	frozen := time.Unix(1e9, 0)
	scorer.now = func() time.Time { return frozen } // penalties decay with time; hold it still
	var round atomic.Uint64
	var rejected int
	checks := newChecks(wire.RunID("demo"), wire.ModelFingerprint("mlp:64-10-10", 760), 760, 2, &round,
		func() { rejected++ }, slog.New(slog.NewTextHandler(&logs, nil)))
	tr := &PubSubTransport{self: self, scorer: scorer, session: Session{Checks: checks}}
	round.Store(7)
	validate := tr.shardValidator(sender, Near)
	good := encode(t, exampleShard())
	withRound := func(r uint64) []byte { s := exampleShard(); s.Round = r; return encode(t, s) }
	withRun := func() []byte { s := exampleShard(); s.RunID = wire.RunID("other"); return encode(t, s) }
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
		if score := scorer.Score(sender); score > -float64(rejectPenalty*(i+1))+1e-6 {
			t.Errorf("%s: forwarder's score %g after %d rejects", c.name, score, i+1)
		}
	}
	if rejected != len(cases) {
		t.Errorf("rejected counter %d, want %d", rejected, len(cases))
	}
	// A round outside the window means someone is behind, which honest
	// peers are: dropped, but not charged (see docs/PROTOCOL.md).
	before := scorer.Score(sender)
	for _, r := range []uint64{1000, 0} {
		round.Store(500 * (1 - r/1000)) // far behind the shard, then far ahead of it
		msg := &pubsub.Message{Message: &pb.Message{From: []byte(sender), Data: withRound(r)}}
		if got := validate(context.Background(), sender, msg); got != pubsub.ValidationIgnore || msg.ValidatorData != nil {
			t.Errorf("round %d at local round %d: %v, want ignore", r, round.Load(), got)
		}
	}
	if scorer.Score(sender) != before {
		t.Error("an out-of-window round was charged to the sender")
	}
	round.Store(7)
	msg := &pubsub.Message{Message: &pb.Message{From: []byte(sender), Data: good}}
	if validate(context.Background(), sender, msg) != pubsub.ValidationAccept || msg.ValidatorData == nil {
		t.Fatal("a valid shard was not accepted")
	}
}

func TestScorerPenaltyHalvesEveryHalfLife(t *testing.T) {
	s := NewScorer()
	now := time.Unix(1e9, 0)
	s.now = func() time.Time { return now }
	id := testpeer.Fresh(t)
	s.Penalize(id)
	s.Penalize(id)
	if got := s.Score(id); got != -20 {
		t.Fatalf("two rejects: score %g, want -20", got)
	}
	now = now.Add(penaltyHalfLife)
	if got := s.Score(id); got < -10.0001 || got > -9.9999 {
		t.Fatalf("after one half-life: score %g, want -10", got)
	}
	if s.Score(testpeer.Fresh(t)) != 0 {
		t.Fatal("an unknown peer has a penalty")
	}
}

func exampleShard() *wire.Shard {
	return &wire.Shard{RunID: wire.RunID("demo"), Model: wire.ModelFingerprint("mlp:64-10-10", 760), Round: 7, Index: 1, Count: 3,
		Offset: 4, Total: 760, Degree: 4, DataWeight: 1, Encoding: wire.EncodingFloat32, Values: []float32{0.5, -1.25, 3}}
}

func encode(t testing.TB, s *wire.Shard) []byte {
	t.Helper()
	b, err := wire.AppendShard(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
