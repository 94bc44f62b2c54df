package cuda

import (
	"strings"
	"testing"
)

func TestParseGPUUUID(t *testing.T) {
	id, err := parseGPUUUID("GPU-5a1e4b2c-0d9f-4e3a-8b7c-6d5e4f3a2b1c")
	want := [16]byte{0x5a, 0x1e, 0x4b, 0x2c, 0x0d, 0x9f, 0x4e, 0x3a, 0x8b, 0x7c, 0x6d, 0x5e, 0x4f, 0x3a, 0x2b, 0x1c}
	if err != nil || id != want {
		t.Fatalf("got %x, %v; want %x", id, err, want)
	}
	for _, bad := range []string{
		"", "5a1e4b2c-0d9f-4e3a-8b7c-6d5e4f3a2b1c", "GPU-5a1e4b2c0d9f4e3a8b7c6d5e4f3a2b1c",
		"GPU-5a1e4b2c-0d9f-4e3a-8b7c-6d5e4f3a2b1", "GPU-5a1e4b2c-0d9f-4e3a-8b7c-6d5e4f3a2b1z",
		"MIG-5a1e4b2c-0d9f-4e3a-8b7c-6d5e4f3a2b1c",
	} {
		if _, err := parseGPUUUID(bad); err == nil || !strings.Contains(err.Error(), "GPU UUID") {
			t.Errorf("parseGPUUUID(%q) = %v; want an error naming the UUID", bad, err)
		}
	}
}

func TestOpenUUIDRefusesAMalformedUUIDBeforeLoadingAnything(t *testing.T) {
	m := newFakeMachine(t)
	if _, err := openUUID(m.searcher(), "GPU-nope"); err == nil || !strings.Contains(err.Error(), `"GPU-nope"`) {
		t.Fatalf("openUUID = %v", err)
	}
	if len(m.opened) != 0 {
		t.Errorf("opened %v for a malformed UUID", m.opened)
	}
}
