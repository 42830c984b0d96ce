package dht

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMaintenance lets virtual time pass: questionable nodes are pinged,
// a node that stopped answering turns bad and leaves the table's answers,
// stale buckets are refreshed, and a live node stays good.
func TestMaintenance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		servers := smallDHT(t, tn, 6)
		a, dead := servers[1], servers[2]
		require.True(t, slices.ContainsFunc(a.Nodes(), func(n NodeInfo) bool { return n.ID == dead.ID() }))
		require.NoError(t, dead.Close())
		before := a.Stats().QueriesOut
		time.Sleep(40 * time.Minute)
		synctest.Wait()
		st := a.Stats()
		require.Greater(t, st.QueriesOut, before, "pings and refreshes were sent")
		require.Positive(t, st.Timeouts)
		nodes := a.Nodes()
		require.False(t, slices.ContainsFunc(nodes, func(n NodeInfo) bool { return n.ID == dead.ID() }), "dead node dropped")
		require.True(t, slices.ContainsFunc(nodes, func(n NodeInfo) bool { return n.ID == servers[3].ID() }), "live node kept")
		a.mu.Lock()
		live := a.tables[0].lookup(servers[3].ID())
		good := live != nil && live.good(time.Now())
		a.mu.Unlock()
		require.True(t, good, "a live node answering pings stays good")
	})
}
