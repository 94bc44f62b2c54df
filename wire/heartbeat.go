package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gradmesh/gradmesh/topology"
)

// Heartbeat is a peer's periodic announcement on the control topic, as
// specified in docs/PROTOCOL.md: where it is in training, where it is in the
// network (its Vivaldi coordinate), whom it proposes to mix with, and what it
// brings. Receivers use Round to notice that they fell behind the mesh,
// Degree to weigh the sender in Metropolis mixing, Proposals to learn which
// links the sender accepts, and Coord to estimate their RTT to it.
type Heartbeat struct {
	RunID         [16]byte
	Model         [16]byte
	Round         uint64
	Degree        uint16  // active links the sender mixes over
	DataWeight    float32 // sender's data share n_i / n̄
	SamplesPerSec float32 // measured local training throughput
	// UplinkKbps is the sender's uplink rate as it states it, kbit/s (0:
	// not stated). Every member caps the sender's links by it
	// (topology's capacity rule), so all derive the same accepted sets.
	UplinkKbps uint32
	Device     Device
	Coord      WireCoord
	Proposals  []Proposal // links the sender proposes, at most MaxProposals
}

// Device is what a peer computes on, as announced in its heartbeat.
type Device struct {
	Name        string // e.g. "cpu"; 1..MaxDeviceNameBytes bytes of printable UTF-8
	MemoryBytes uint64 // device memory; 0 when not stated (CPU)
}

// WireCoord is a Vivaldi network coordinate as a heartbeat carries it: the
// CoordDims Euclidean components, height and adjustment in seconds, and the
// sender's error estimate (dimensionless), each an IEEE-754 binary32.
type WireCoord struct {
	Vec        [CoordDims]float32
	Height     float32
	Adjustment float32
	Error      float32
}

// CoordDims is the number of Euclidean components of a coordinate on the wire.
const CoordDims = topology.CoordDimensions

// Proposal is a link a peer proposes: near (picked by RTT) or long (picked
// by rendezvous hash), with the proposer's best knowledge of the link's
// RTT. The RTT travels with the proposal so that every member ranks a
// peer's inbound proposals the same way and derives the same accepted
// sets. Slow marks a link the proposer finds too slow to mix every round
// (topology.Link.Slow): the link is then mixed asynchronously, whatever
// its kind.
type Proposal struct {
	ID   peer.ID
	Long bool
	Slow bool
	RTT  time.Duration // whole microseconds on the wire (Marshal truncates); 0 = unknown; ≤ MaxProposalRTT
}

// Heartbeat bounds.
const (
	// HeartbeatVersion is the version byte of heartbeats this package
	// writes and the only one it reads.
	HeartbeatVersion = 5
	// MaxProposals is the most links one heartbeat may propose.
	MaxProposals = 32
	// MaxDeviceNameBytes bounds the device name.
	MaxDeviceNameBytes = 64
	// MaxPeerIDBytes bounds a proposed peer ID in its binary (multihash)
	// form; an Ed25519 peer ID takes 38 bytes, an RSA one 34.
	MaxPeerIDBytes = 64
	// MaxProposalRTT is the largest RTT a proposal may state: the RTT
	// filter's own bound.
	MaxProposalRTT = topology.MaxRTTSample
	// proposalHeader is a proposal's size before its peer ID: flags,
	// ID length, RTT.
	proposalHeader = 6
	// MaxHeartbeatDegree is the largest active degree a heartbeat may state.
	MaxHeartbeatDegree = 1024
	// MaxDeviceMemory is the largest device memory a heartbeat may state
	// (1 PiB, far beyond any one device).
	MaxDeviceMemory = 1 << 50
	// heartbeatFixed is the size of the fixed part before the device name.
	heartbeatFixed = 116
	// MinHeartbeatBytes and MaxHeartbeatBytes bound an encoded heartbeat.
	MinHeartbeatBytes = heartbeatFixed + 1 + 4
	MaxHeartbeatBytes = heartbeatFixed + MaxDeviceNameBytes + MaxProposals*(proposalHeader+MaxPeerIDBytes) + 4
)

// Byte offsets of the fixed part of a heartbeat.
const (
	hbMagic      = 0
	hbVersion    = 4
	hbFlags      = 5
	hbLength     = 6
	hbRun        = 8
	hbModel      = 24
	hbRound      = 40
	hbDegree     = 48
	hbProposals  = 50
	hbNameLen    = 51
	hbWeight     = 52
	hbSamples    = 56
	hbMemory     = 60
	hbCoord      = 68
	hbHeight     = 100
	hbAdjustment = 104
	hbError      = 108
	hbUplink     = 112
)

// Flag bits of a proposal: a long link, a slow link (either kind); the
// other bits are reserved.
const (
	proposalLong = 1 << 0
	proposalSlow = 1 << 1
)

var heartbeatMagic = [4]byte{'G', 'M', 'H', 'B'}

// Marshal encodes the heartbeat (layout in docs/PROTOCOL.md). It refuses,
// with an error naming the field, anything a receiver would reject, so that
// a peer is never penalized for its own heartbeat.
func (hb *Heartbeat) Marshal() ([]byte, error) {
	if err := hb.check(); err != nil {
		return nil, err
	}
	size := heartbeatFixed + len(hb.Device.Name) + 4
	for _, pr := range hb.Proposals {
		size += proposalHeader + len(pr.ID)
	}
	b := make([]byte, heartbeatFixed, size)
	le := binary.LittleEndian
	copy(b[hbMagic:], heartbeatMagic[:])
	b[hbVersion] = HeartbeatVersion
	le.PutUint16(b[hbLength:], uint16(size))
	copy(b[hbRun:], hb.RunID[:])
	copy(b[hbModel:], hb.Model[:])
	le.PutUint64(b[hbRound:], hb.Round)
	le.PutUint16(b[hbDegree:], hb.Degree)
	b[hbProposals] = uint8(len(hb.Proposals))
	b[hbNameLen] = uint8(len(hb.Device.Name))
	le.PutUint32(b[hbWeight:], math.Float32bits(hb.DataWeight))
	le.PutUint32(b[hbSamples:], math.Float32bits(hb.SamplesPerSec))
	le.PutUint64(b[hbMemory:], hb.Device.MemoryBytes)
	for i, v := range hb.Coord.Vec {
		le.PutUint32(b[hbCoord+4*i:], math.Float32bits(v))
	}
	le.PutUint32(b[hbHeight:], math.Float32bits(hb.Coord.Height))
	le.PutUint32(b[hbAdjustment:], math.Float32bits(hb.Coord.Adjustment))
	le.PutUint32(b[hbError:], math.Float32bits(hb.Coord.Error))
	le.PutUint32(b[hbUplink:], hb.UplinkKbps)
	b = append(b, hb.Device.Name...)
	for _, pr := range hb.Proposals {
		flags := uint8(0)
		if pr.Long {
			flags |= proposalLong
		}
		if pr.Slow {
			flags |= proposalSlow
		}
		b = append(b, flags, uint8(len(pr.ID)))
		b = le.AppendUint32(b, uint32(pr.RTT/time.Microsecond))
		b = append(b, pr.ID...)
	}
	return le.AppendUint32(b, crc32.Checksum(b, crcTable)), nil
}

// UnmarshalHeartbeat decodes and checks a heartbeat for the given run and
// model. Every error wraps one of the package's sentinels and names the
// field that was wrong: ErrOversize, ErrMalformed (size, magic, version,
// reserved bits, length, counts, device name, proposals), ErrChecksum,
// ErrWrongRun, ErrWrongModel, ErrBadWeight, ErrNonFinite (throughput) and
// ErrBadCoordinate. b is not retained.
func UnmarshalHeartbeat(b []byte, run, model [16]byte) (*Heartbeat, error) {
	le := binary.LittleEndian
	switch {
	case len(b) > MaxHeartbeatBytes:
		return nil, fmt.Errorf("%w: heartbeat of %d bytes, over the %d-byte limit", ErrOversize, len(b), MaxHeartbeatBytes)
	case len(b) < MinHeartbeatBytes:
		return nil, fmt.Errorf("%w: heartbeat of %d bytes, shorter than the %d-byte minimum", ErrMalformed, len(b), MinHeartbeatBytes)
	case [4]byte(b[hbMagic:]) != heartbeatMagic:
		return nil, fmt.Errorf("%w: heartbeat magic %x, want %x (\"GMHB\")", ErrMalformed, b[hbMagic:hbMagic+4], heartbeatMagic[:])
	case b[hbVersion] != HeartbeatVersion:
		return nil, fmt.Errorf("%w: heartbeat version %d at offset %d, want %d", ErrMalformed, b[hbVersion], hbVersion, HeartbeatVersion)
	case b[hbFlags] != 0:
		return nil, fmt.Errorf("%w: heartbeat reserved flags %#02x at offset %d, want 0", ErrMalformed, b[hbFlags], hbFlags)
	case int(le.Uint16(b[hbLength:])) != len(b):
		return nil, fmt.Errorf("%w: heartbeat length field %d at offset %d, but %d bytes present", ErrMalformed, le.Uint16(b[hbLength:]), hbLength, len(b))
	}
	end := len(b) - 4
	if got, want := le.Uint32(b[end:]), crc32.Checksum(b[:end], crcTable); got != want {
		return nil, fmt.Errorf("%w: heartbeat CRC-32C %08x at offset %d, computed %08x", ErrChecksum, got, end, want)
	}
	hb := &Heartbeat{
		Round:         le.Uint64(b[hbRound:]),
		Degree:        le.Uint16(b[hbDegree:]),
		DataWeight:    math.Float32frombits(le.Uint32(b[hbWeight:])),
		SamplesPerSec: math.Float32frombits(le.Uint32(b[hbSamples:])),
		UplinkKbps:    le.Uint32(b[hbUplink:]),
		Device:        Device{MemoryBytes: le.Uint64(b[hbMemory:])},
	}
	copy(hb.RunID[:], b[hbRun:])
	copy(hb.Model[:], b[hbModel:])
	for i := range hb.Coord.Vec {
		hb.Coord.Vec[i] = math.Float32frombits(le.Uint32(b[hbCoord+4*i:]))
	}
	hb.Coord.Height = math.Float32frombits(le.Uint32(b[hbHeight:]))
	hb.Coord.Adjustment = math.Float32frombits(le.Uint32(b[hbAdjustment:]))
	hb.Coord.Error = math.Float32frombits(le.Uint32(b[hbError:]))

	count, nameLen := int(b[hbProposals]), int(b[hbNameLen])
	if count > MaxProposals {
		return nil, fmt.Errorf("%w: heartbeat proposes %d links at offset %d, at most %d", ErrMalformed, count, hbProposals, MaxProposals)
	}
	at := heartbeatFixed
	if nameLen > end-at {
		return nil, fmt.Errorf("%w: heartbeat device name of %d bytes at offset %d runs past the end", ErrMalformed, nameLen, hbNameLen)
	}
	hb.Device.Name = string(b[at : at+nameLen])
	at += nameLen
	if count > 0 {
		hb.Proposals = make([]Proposal, 0, min(count, (end-at)/(proposalHeader+1)))
	}
	for i := range count {
		if end-at < proposalHeader {
			return nil, fmt.Errorf("%w: heartbeat proposal %d of %d at offset %d runs past the end", ErrMalformed, i, count, at)
		}
		flags, idLen, rtt := b[at], int(b[at+1]), time.Duration(le.Uint32(b[at+2:]))*time.Microsecond
		if flags&^(proposalLong|proposalSlow) != 0 {
			return nil, fmt.Errorf("%w: heartbeat proposal %d has reserved flag bits %#02x at offset %d", ErrMalformed, i, flags, at)
		}
		if idLen > end-at-proposalHeader {
			return nil, fmt.Errorf("%w: heartbeat proposal %d: peer ID of %d bytes at offset %d runs past the end", ErrMalformed, i, idLen, at+1)
		}
		id := peer.ID(b[at+proposalHeader : at+proposalHeader+idLen])
		hb.Proposals = append(hb.Proposals, Proposal{ID: id, Long: flags&proposalLong != 0, Slow: flags&proposalSlow != 0, RTT: rtt})
		at += proposalHeader + idLen
	}
	if at != end {
		return nil, fmt.Errorf("%w: heartbeat has %d bytes after its last proposal, before the CRC", ErrMalformed, end-at)
	}
	switch {
	case hb.RunID != run:
		return nil, fmt.Errorf("%w: heartbeat run id %x, want %x", ErrWrongRun, hb.RunID, run)
	case hb.Model != model:
		return nil, fmt.Errorf("%w: heartbeat model fingerprint %x, want %x", ErrWrongModel, hb.Model, model)
	}
	if err := hb.check(); err != nil {
		return nil, err
	}
	return hb, nil
}

// check applies the rules on field values that both ends enforce.
func (hb *Heartbeat) check() error {
	switch {
	case !(hb.DataWeight > 0 && hb.DataWeight <= MaxDataWeight):
		return fmt.Errorf("%w: heartbeat data weight %g", ErrBadWeight, hb.DataWeight)
	case !(hb.SamplesPerSec >= 0) || math.IsInf(float64(hb.SamplesPerSec), 0):
		return fmt.Errorf("%w: heartbeat throughput %g samples/s, want finite and ≥ 0", ErrNonFinite, hb.SamplesPerSec)
	case hb.Degree > MaxHeartbeatDegree:
		return fmt.Errorf("%w: heartbeat degree %d, at most %d", ErrMalformed, hb.Degree, MaxHeartbeatDegree)
	case hb.Device.MemoryBytes > MaxDeviceMemory:
		return fmt.Errorf("%w: heartbeat device memory %d bytes, at most %d", ErrMalformed, hb.Device.MemoryBytes, uint64(MaxDeviceMemory))
	case len(hb.Proposals) > MaxProposals:
		return fmt.Errorf("%w: heartbeat proposes %d links, at most %d", ErrMalformed, len(hb.Proposals), MaxProposals)
	}
	if err := CheckDeviceName(hb.Device.Name); err != nil {
		return err
	}
	if err := hb.Coord.check(); err != nil {
		return err
	}
	for i, pr := range hb.Proposals {
		if len(pr.ID) == 0 || len(pr.ID) > MaxPeerIDBytes {
			return fmt.Errorf("%w: heartbeat proposal %d: peer ID of %d bytes, want 1..%d", ErrMalformed, i, len(pr.ID), MaxPeerIDBytes)
		}
		if pr.RTT < 0 || pr.RTT > MaxProposalRTT {
			return fmt.Errorf("%w: heartbeat proposal %d states an RTT of %v, want 0 (unknown) to %v", ErrMalformed, i, pr.RTT, MaxProposalRTT)
		}
		if err := checkPeerID(pr.ID); err != nil {
			return fmt.Errorf("%w: heartbeat proposal %d: %x is not a peer ID: %v", ErrMalformed, i, []byte(pr.ID), err)
		}
		if slices.ContainsFunc(hb.Proposals[:i], func(q Proposal) bool { return q.ID == pr.ID }) {
			return fmt.Errorf("%w: heartbeat proposes %s twice", ErrMalformed, pr.ID)
		}
	}
	return nil
}

// Multihash codes of libp2p peer IDs: the public key inline (identity,
// Ed25519 and other short keys) or its SHA-256 (RSA).
const (
	multihashIdentity = 0x00
	multihashSHA256   = 0x12
)

// checkPeerID accepts the binary forms libp2p gives peer IDs: a well-formed
// multihash, either SHA-256 or an inline public key that parses.
func checkPeerID(id peer.ID) error {
	parsed, err := peer.IDFromBytes([]byte(id))
	switch {
	case err != nil:
		return err
	case parsed != id:
		return errors.New("not in canonical form")
	case id[0] == multihashSHA256:
		return nil
	case id[0] != multihashIdentity:
		return fmt.Errorf("multihash code %#x, want identity or sha2-256", id[0])
	}
	_, err = id.ExtractPublicKey()
	return err
}

// CheckAuthor reports an error if the heartbeat proposes a link to its own
// author, which no honest peer does.
func (hb *Heartbeat) CheckAuthor(from peer.ID) error {
	if slices.ContainsFunc(hb.Proposals, func(q Proposal) bool { return q.ID == from }) {
		return fmt.Errorf("%w: heartbeat of %s proposes a link to itself", ErrMalformed, from)
	}
	return nil
}

// CheckDeviceName accepts a device name a heartbeat may carry: printable
// UTF-8 (it ends up in logs and /status), no longer than
// MaxDeviceNameBytes, not empty.
func CheckDeviceName(name string) error {
	switch {
	case name == "" || len(name) > MaxDeviceNameBytes:
		return fmt.Errorf("%w: heartbeat device name of %d bytes, want 1..%d", ErrMalformed, len(name), MaxDeviceNameBytes)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: heartbeat device name %q is not UTF-8", ErrMalformed, name)
	}
	for i, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: heartbeat device name %q has an unprintable character at byte %d", ErrMalformed, name, i)
		}
	}
	return nil
}

// check rejects a coordinate that could poison the receiver's own
// (topology.Coord.Validate: NaN or infinite parts, a negative height or
// error, distances beyond topology.MaxCoordMagnitude).
func (c WireCoord) check() error {
	if err := c.Coord().Validate(); err != nil {
		return fmt.Errorf("%w: heartbeat %v", ErrBadCoordinate, err)
	}
	return nil
}

// Coord converts the wire coordinate to the topology package's.
func (c WireCoord) Coord() topology.Coord {
	out := topology.Coord{Vec: make([]float64, CoordDims), Height: float64(c.Height),
		Adjustment: float64(c.Adjustment), Error: float64(c.Error)}
	for i, v := range c.Vec {
		out.Vec[i] = float64(v)
	}
	return out
}

// CoordOf rounds a coordinate to binary32 for a heartbeat. Components
// beyond CoordDims are dropped, missing ones are 0; a coordinate that
// Validate refuses stays refused after rounding.
func CoordOf(c topology.Coord) WireCoord {
	out := WireCoord{Height: float32(c.Height), Adjustment: float32(c.Adjustment), Error: float32(c.Error)}
	for i := range min(len(c.Vec), CoordDims) {
		out.Vec[i] = float32(c.Vec[i])
	}
	return out
}

// MaxUplinkBitsPerSec is the fastest uplink a heartbeat can state: its
// field is a u32 in kbit/s.
const MaxUplinkBitsPerSec = math.MaxUint32 * 1000

// UplinkKbps is an uplink rate as a heartbeat states it: whole kbit/s, at
// least 1 for any stated rate, 0 for none.
func UplinkKbps(bitsPerSec float64) uint32 {
	if !(bitsPerSec > 0) {
		return 0
	}
	return uint32(min(max(math.Round(bitsPerSec/1000), 1), math.MaxUint32))
}
