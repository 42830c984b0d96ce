package peerwire

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/bittern/bittern/bencode"
)

// PEXFlags are the per-peer flags of a ut_pex message (BEP 11).
type PEXFlags uint8

// ut_pex peer flags.
const (
	PEXEncryption PEXFlags = 0x01 // prefers encryption (MSE)
	PEXSeed       PEXFlags = 0x02 // seed or upload-only
	PEXUTP        PEXFlags = 0x04 // supports uTP
	PEXHolepunch  PEXFlags = 0x08 // supports ut_holepunch (BEP 55)
	PEXReachable  PEXFlags = 0x10 // the sender connected to it (reachable)
)

// MaxPEXPeers is the most peers accepted in each list of one ut_pex
// message. BEP 11 asks senders for at most 50 added and 50 dropped; we
// allow some slack for other clients and refuse beyond it.
const MaxPEXPeers = 200

// PEXPeer is a peer added in a ut_pex message.
type PEXPeer struct {
	Addr  netip.AddrPort
	Flags PEXFlags
}

// PEX is a BEP 11 ut_pex message; IPv4 and IPv6 peers are mixed in the
// lists and split by family on the wire.
type PEX struct {
	Added   []PEXPeer
	Dropped []netip.AddrPort
}

type pexDict struct {
	Added    []byte `bencode:"added,omitempty"`
	AddedF   []byte `bencode:"added.f,omitempty"`
	Dropped  []byte `bencode:"dropped,omitempty"`
	Added6   []byte `bencode:"added6,omitempty"`
	Added6F  []byte `bencode:"added6.f,omitempty"`
	Dropped6 []byte `bencode:"dropped6,omitempty"`
}

// ParsePEX decodes a ut_pex payload. Compact lists must be whole (6 bytes
// a peer for IPv4, 18 for IPv6) and hold at most MaxPEXPeers peers; a
// flags string whose length does not match its list is ignored (peers get
// zero flags), as other clients do.
func ParsePEX(payload []byte) (PEX, error) {
	const msg = "ut_pex"
	var d pexDict
	var p PEX
	if err := bencode.Unmarshal(payload, &d); err != nil {
		return p, &FieldError{msg, "", err}
	}
	for _, l := range []struct {
		name  string
		b     []byte
		flags []byte
		size  int
		added bool
	}{
		{"added", d.Added, d.AddedF, 6, true},
		{"added6", d.Added6, d.Added6F, 18, true},
		{"dropped", d.Dropped, nil, 6, false},
		{"dropped6", d.Dropped6, nil, 18, false},
	} {
		if len(l.b)%l.size != 0 {
			return PEX{}, &FieldError{msg, l.name, fmt.Errorf("%d bytes is not a multiple of %d", len(l.b), l.size)}
		}
		n := len(l.b) / l.size
		if n > MaxPEXPeers {
			return PEX{}, &FieldError{msg, l.name, fmt.Errorf("%d peers, limit %d", n, MaxPEXPeers)}
		}
		for i := range n {
			ap := parseCompact(l.b[i*l.size : (i+1)*l.size])
			if !l.added {
				p.Dropped = append(p.Dropped, ap)
				continue
			}
			var f PEXFlags
			if len(l.flags) == n {
				f = PEXFlags(l.flags[i])
			}
			p.Added = append(p.Added, PEXPeer{ap, f})
		}
	}
	return p, nil
}

func parseCompact(b []byte) netip.AddrPort {
	a, _ := netip.AddrFromSlice(b[:len(b)-2])
	return netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[len(b)-2:]))
}

func appendCompact(dst []byte, ap netip.AddrPort) []byte {
	dst = append(dst, ap.Addr().AsSlice()...)
	return binary.BigEndian.AppendUint16(dst, ap.Port())
}

// AppendTo appends the bencoded payload of p to dst. IPv4-mapped IPv6
// addresses are sent as IPv4; invalid addresses are skipped.
func (p PEX) AppendTo(dst []byte) ([]byte, error) {
	var d pexDict
	for _, peer := range p.Added {
		a := peer.Addr.Addr().Unmap()
		switch {
		case a.Is4():
			d.Added = appendCompact(d.Added, netip.AddrPortFrom(a, peer.Addr.Port()))
			d.AddedF = append(d.AddedF, byte(peer.Flags))
		case a.Is6():
			d.Added6 = appendCompact(d.Added6, peer.Addr)
			d.Added6F = append(d.Added6F, byte(peer.Flags))
		}
	}
	for _, ap := range p.Dropped {
		a := ap.Addr().Unmap()
		switch {
		case a.Is4():
			d.Dropped = appendCompact(d.Dropped, netip.AddrPortFrom(a, ap.Port()))
		case a.Is6():
			d.Dropped6 = appendCompact(d.Dropped6, ap)
		}
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}
