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
		a := servers[1]
		known := a.Nodes()
		require.GreaterOrEqual(t, len(known), 2)
		byID := func(id ID) *Server {
			i := slices.IndexFunc(servers, func(s *Server) bool { return s.ID() == id })
			require.GreaterOrEqual(t, i, 0)
			return servers[i]
		}
		dead, alive := byID(known[0].ID), byID(known[1].ID)
		require.NoError(t, dead.Close())
		before := a.Stats().QueriesOut
		time.Sleep(40 * time.Minute)
		synctest.Wait()
		st := a.Stats()
		require.Greater(t, st.QueriesOut, before, "pings and refreshes were sent")
		require.Positive(t, st.Timeouts)
		nodes := a.Nodes()
		require.False(t, slices.ContainsFunc(nodes, func(n NodeInfo) bool { return n.ID == dead.ID() }), "dead node dropped")
		require.True(t, slices.ContainsFunc(nodes, func(n NodeInfo) bool { return n.ID == alive.ID() }), "live node kept")
		a.mu.Lock()
		live := a.tables[0].lookup(alive.ID())
		good := live != nil && live.good(time.Now())
		a.mu.Unlock()
		require.True(t, good, "a live node answering pings stays good")
	})
}
