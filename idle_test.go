package bittern

import (
	"testing"
	"testing/synctest"
	"time"
)

// An idle seed stops its tick; a peer that connects later starts it
// again, so the peer is still dropped when it stays silent.
func TestIdleSeedTicksAgainForNewPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, _ := seederSetup(t, n, &Config{KeepAliveInterval: 30 * time.Second, IdleTimeout: 20 * time.Second})
		defer s.Close()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		start := time.Now()
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('i'), fastExt)
		p.expectClosed()
		if closed := time.Since(start); closed < 20*time.Second || closed > 22*time.Second {
			t.Errorf("silent peer closed after %v, want just after 20 s", closed)
		}
		synctest.Wait()
		if got := s.Stats().Peers; got != 0 {
			t.Errorf("%d peers after the drop, want 0", got)
		}
	})
}
