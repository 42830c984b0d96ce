package bittern

import (
	"net/netip"
	"slices"

	"github.com/bittern/bittern/peerwire"
)

// Trust points, as libtorrent keeps them: a peer earns one for each piece
// it helped download that passes its hash check (up to trustMax), loses
// trustFailPenalty for each one that fails, and is banned at trustBan or
// below. A peer that sent every block of a failing piece is banned at once.
const (
	trustMax         = 8
	trustFailPenalty = 2
	trustBan         = -7
)

// contributor identifies a peer that sent blocks of a piece, surviving its
// connection.
type contributor struct {
	id [20]byte
	ip netip.Addr
}

// noteContribution records that c sent a block of piece that was kept.
func (t *Torrent) noteContribution(piece int, c *peerConn) {
	who := contributor{c.id, c.ip}
	if !slices.Contains(t.contrib[piece], who) {
		t.contrib[piece] = append(t.contrib[piece], who)
	}
}

// settleTrust credits or blames the peers that sent piece once its hash
// check is done, and bans those that fall too low.
func (t *Torrent) settleTrust(piece int, ok bool) {
	who := t.contrib[piece]
	delete(t.contrib, piece)
	for _, p := range who {
		if ok {
			t.trust[p.id] = min(t.trust[p.id]+1, trustMax)
			continue
		}
		t.trust[p.id] -= trustFailPenalty
		if (len(who) == 1 && !t.webSeedsSent(piece)) || t.trust[p.id] <= trustBan {
			t.ban(p)
		}
	}
}

// ban drops the peer and refuses its address and peer ID from now on.
func (t *Torrent) ban(p contributor) {
	if t.bannedIPs[p.ip] && t.bannedIDs[p.id] {
		return
	}
	t.log.Info("banned peer for corrupt data", "ip", p.ip, "client", peerwire.ClientName(p.id))
	if p.ip.IsValid() {
		t.bannedIPs[p.ip] = true
	}
	t.bannedIDs[p.id] = true
	t.numBanned.Store(int64(len(t.bannedIDs)))
	t.emit(func(b EventBase) Event { return PeerBanned{EventBase: b, Addr: p.ip, PeerID: p.id} })
	for c := range t.conns {
		if c.id == p.id || (p.ip.IsValid() && c.ip == p.ip) {
			t.dropConn(c, errBanned)
		}
	}
}

// isBanned reports whether a peer is banned by IP or peer ID.
func (t *Torrent) isBanned(id [20]byte, ip netip.Addr) bool {
	return t.bannedIDs[id] || (ip.IsValid() && t.bannedIPs[ip])
}
