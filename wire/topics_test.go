package wire

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestIsControlTopicTellsTheControlTopicFromTheOthers: gossipsub relays
// only what IsControlTopic admits, so a parameter topic must never pass.
func TestIsControlTopicTellsTheControlTopicFromTheOthers(t *testing.T) {
	run := RunID("r")
	id := peer.ID("peer")
	if !IsControlTopic(ControlTopic(run)) {
		t.Errorf("%q is not recognised as a control topic", ControlTopic(run))
	}
	for _, name := range []string{ParamTopic(run, id), LongTopic(run, id), "/gradmesh/v4/" + ControlTopic(run)[13:], ControlTopic(run) + "x", ""} {
		if IsControlTopic(name) {
			t.Errorf("%q taken for a control topic", name)
		}
	}
}
