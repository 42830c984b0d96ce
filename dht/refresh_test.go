package dht

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBucketRefresh checks BEP 5's bucket refresh: a bucket that has not
// changed for Config.RefreshInterval gets a find_node lookup for a random
// ID in its range, and a bucket that has changed does not.
func TestBucketRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		const interval = 5 * time.Minute // shorter than goodFor: no liveness pings yet
		a, w, _ := fullView(t, tn, 12, Config{RefreshInterval: interval}, methodFindNode)
		a.mu.Lock()
		self := a.id
		nb := len(a.tables[0].buckets)
		a.mu.Unlock()
		require.GreaterOrEqual(t, nb, 2)

		time.Sleep(interval - maintainInterval)
		synctest.Wait()
		_, sent := w.snapshot(methodFindNode)
		require.Empty(t, sent, "no bucket is stale yet")

		time.Sleep(2 * maintainInterval)
		synctest.Wait()
		_, sent = w.snapshot(methodFindNode)
		refreshed := make(map[int]bool)
		for _, q := range sent {
			target := ID([]byte(q.A.Target))
			refreshed[min(self.CommonPrefixLen(target), nb-1)] = true
		}
		for i := range nb {
			require.True(t, refreshed[i], "bucket %d of %d refreshed", i, nb)
		}
		a.mu.Lock()
		stale := a.tables[0].staleBuckets(time.Now(), interval)
		a.mu.Unlock()
		require.Empty(t, stale, "refreshed buckets count as changed")

		// Until the interval has passed again, nothing more is refreshed.
		w.reset()
		time.Sleep(interval - 2*maintainInterval)
		synctest.Wait()
		_, sent = w.snapshot(methodFindNode)
		require.Empty(t, sent)
	})
}
