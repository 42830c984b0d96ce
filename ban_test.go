package bittern

import (
	"log/slog"
	"net/netip"
	"testing"
)

func TestTrustPoints(t *testing.T) {
	tor := &Torrent{log: slog.New(slog.DiscardHandler)}
	tor.initOwner(nil)
	a := contributor{id: rawID('a'), ip: netip.MustParseAddr("10.0.0.1")}
	b := contributor{id: rawID('b'), ip: netip.MustParseAddr("10.0.0.2")}
	fail := func(piece int, who ...contributor) {
		tor.contrib[piece] = who
		tor.settleTrust(piece, false)
	}
	pass := func(piece int, who ...contributor) {
		tor.contrib[piece] = who
		tor.settleTrust(piece, true)
	}
	// Shared failures cost both peers two points; bans come at -7.
	for i := range 3 {
		fail(i, a, b)
	}
	if tor.isBanned(a.id, a.ip) || tor.isBanned(b.id, b.ip) {
		t.Fatal("banned at -6")
	}
	pass(10, b)
	pass(11, b)
	fail(3, a, b)
	if !tor.isBanned(a.id, a.ip) || tor.isBanned(b.id, b.ip) {
		t.Fatalf("after a fourth failure: a banned %v (want true), b banned %v (want false, it earned two points)",
			tor.isBanned(a.id, a.ip), tor.isBanned(b.id, b.ip))
	}
	// Banned by IP too: another peer ID from a's address is refused.
	if !tor.isBanned(rawID('x'), a.ip) {
		t.Fatal("a's IP not banned")
	}
	// Credit is capped: eight passes do not buy more than trustMax.
	c := contributor{id: rawID('c'), ip: netip.MustParseAddr("10.0.0.3")}
	for i := range 20 {
		pass(100+i, c, b)
	}
	if tor.trust[c.id] != trustMax {
		t.Fatalf("trust %d, want the cap %d", tor.trust[c.id], trustMax)
	}
	// The sole sender of a failing piece is banned at once.
	fail(200, c)
	if !tor.isBanned(c.id, c.ip) {
		t.Fatal("sole contributor of a failed piece not banned")
	}
	if got := tor.numBanned.Load(); got != 2 {
		t.Fatalf("%d banned, want 2", got)
	}
}
