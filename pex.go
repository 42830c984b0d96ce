package bittern

import (
	"net/netip"
	"time"

	"github.com/bittern/bittern/peerwire"
)

// PEX limits (BEP 11).
const (
	// PEXInterval is the least time between two ut_pex messages to one
	// peer; messages a peer sends us sooner are ignored.
	PEXInterval = time.Minute
	// PEXMaxAdded bounds the peers of one ut_pex message's "added" list
	// (and "dropped" list) that we send, and those we take from a message
	// we receive.
	PEXMaxAdded = 50
)

// pexEnabled reports whether the torrent exchanges peers: not for private
// torrents (BEP 27).
func (t *Torrent) pexEnabled() bool { return !t.info.Private }

// peerListenAddr is where a connected peer accepts connections: the
// address we dialled, or its IP with the port of its extended handshake.
func (c *peerConn) peerListenAddr() (netip.AddrPort, bool) {
	if c.outgoing {
		a, err := netip.ParseAddrPort(c.addr)
		return a, err == nil
	}
	if c.listenPort == 0 || !c.ip.IsValid() {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(c.ip, c.listenPort), true
}

// onPEX takes the peers of a ut_pex message: at most PEXMaxAdded of its
// added peers, and at most one message per PEXInterval per connection.
func (t *Torrent) onPEX(c *peerConn, payload []byte, now time.Time) {
	if !t.pexEnabled() {
		return
	}
	if !c.lastPEXRecv.IsZero() && now.Sub(c.lastPEXRecv) < PEXInterval {
		c.log.Debug("ut_pex too soon; ignored")
		return
	}
	c.lastPEXRecv = now
	m, err := peerwire.ParsePEX(payload)
	if err != nil {
		t.dropConn(c, err)
		return
	}
	addrs := make([]netip.AddrPort, 0, min(len(m.Added), PEXMaxAdded))
	for _, p := range m.Added {
		if len(addrs) == PEXMaxAdded {
			break
		}
		addrs = append(addrs, p.Addr)
		t.s.pexTransportHint(p)
	}
	t.pexPeers.Add(int64(len(addrs)))
	t.addPeerAddrs(addrs)
}

// sendPEX sends each peer that speaks ut_pex, at most once per
// PEXInterval, the changes in our set of connected peers since its last
// message: at most PEXMaxAdded added and as many dropped.
func (t *Torrent) sendPEX(now time.Time) {
	if !t.pexEnabled() {
		return
	}
	var current map[netip.AddrPort]peerwire.PEXFlags
	for c := range t.conns {
		if c.pexID == 0 || now.Sub(c.lastPEXSent) < PEXInterval {
			continue
		}
		if current == nil {
			current = make(map[netip.AddrPort]peerwire.PEXFlags, len(t.conns))
			for o := range t.conns {
				if a, ok := o.peerListenAddr(); ok {
					var f peerwire.PEXFlags
					if o.have.All() {
						f |= peerwire.PEXSeed
					}
					if o.encrypted {
						f |= peerwire.PEXEncryption
					}
					if o.utp {
						f |= peerwire.PEXUTP
					}
					if o.outgoing {
						f |= peerwire.PEXReachable
					}
					current[a] = f
				}
			}
		}
		self, _ := c.peerListenAddr()
		if c.pexSent == nil {
			c.pexSent = make(map[netip.AddrPort]bool)
		}
		var m peerwire.PEX
		for a, f := range current {
			if len(m.Added) == PEXMaxAdded {
				break
			}
			if a != self && !c.pexSent[a] {
				m.Added = append(m.Added, peerwire.PEXPeer{Addr: a, Flags: f})
			}
		}
		for a := range c.pexSent {
			if len(m.Dropped) == PEXMaxAdded {
				break
			}
			if _, ok := current[a]; !ok {
				m.Dropped = append(m.Dropped, a)
			}
		}
		if len(m.Added) == 0 && len(m.Dropped) == 0 {
			continue
		}
		payload, err := m.AppendTo(nil)
		if err != nil {
			continue
		}
		for _, p := range m.Added {
			c.pexSent[p.Addr] = true
		}
		for _, a := range m.Dropped {
			delete(c.pexSent, a)
		}
		c.lastPEXSent = now
		c.send(peerwire.Extended{ExtendedID: c.pexID, Payload: payload}.AppendTo(nil))
	}
}
