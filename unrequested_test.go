package bittern

import "testing"

func TestUnrequestedBookkeeping(t *testing.T) {
	k := blockKey{1, 0, 16 << 10}
	c := &peerConn{fast: true}
	if !c.unrequested(k, false) {
		t.Fatal("a piece never requested nor cancelled passed")
	}
	if c.unrequested(k, true) {
		t.Fatal("an outstanding request was refused")
	}
	c.noteCancelled(k)
	if c.unrequested(k, true) {
		t.Fatal("a re-requested block was refused")
	}
	if c.unrequested(k, false) {
		t.Fatal("the answer to a cancelled request was refused")
	}
	if !c.unrequested(k, false) {
		t.Fatal("a second answer to one cancelled request passed")
	}
	c.noteCancelled(k)
	if !c.answered(k) || c.answered(k) {
		t.Fatal("a reject should answer a cancel once")
	}

	// Without the fast extension nothing is enforced or remembered.
	n := &peerConn{}
	n.noteCancelled(k)
	if n.unrequested(k, false) || len(n.cancelled) != 0 {
		t.Fatal("a peer without BEP 6 was held to it")
	}

	// A peer that never answers cancels turns the rule off, bounded.
	for i := range maxCancelled + 1 {
		c.noteCancelled(blockKey{uint32(i), 0, 1})
	}
	if !c.cancelOverflow || c.cancelled != nil || c.unrequested(blockKey{9999, 0, 1}, false) {
		t.Fatal("overflow should drop the set and stop enforcing")
	}
}
