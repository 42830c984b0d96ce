package bittern

import (
	"testing"
	"time"

	"github.com/bittern/bittern/piecepicker"
	"github.com/stretchr/testify/require"
)

// pipeTorrent is a torrent with just enough state for pipeline sizing.
func pipeTorrent(t *testing.T, depth int) (*Torrent, *peerConn) {
	t.Helper()
	cfg := (&Config{RequestQueueDepth: depth}).withDefaults()
	tr := &Torrent{s: &Session{cfg: cfg}}
	p, err := piecepicker.New(piecepicker.Config{NumPieces: 4, PieceLength: 1 << 16})
	require.NoError(t, err)
	tr.picker = p
	c := &peerConn{pp: p.AddPeer()}
	c.pipe.init(time.Unix(0, 0))
	return tr, c
}

func TestPipelineSlowStartThenRate(t *testing.T) {
	tr, c := pipeTorrent(t, 128)
	require.Equal(t, initialPipeline, tr.pipelineDepth(c))
	for range 10 {
		tr.pipelineBlock(c)
	}
	require.Equal(t, initialPipeline+10, tr.pipelineDepth(c))

	// A first sample; the rate then stops growing: slow start ends and
	// the pipeline holds 3 s at the rate: 100 KiB/s → 18 blocks of 16 KiB.
	now := time.Unix(0, 0)
	feed := func(bytes int64) {
		now = now.Add(time.Second)
		c.downloaded.Add(bytes)
		tr.samplePipeline(c, now)
	}
	feed(100 << 10)
	require.True(t, c.pipe.slowStart)
	feed(100 << 10)
	require.False(t, c.pipe.slowStart)
	require.Equal(t, 18, tr.pipelineDepth(c))
	tr.pipelineBlock(c)
	require.Equal(t, 18, tr.pipelineDepth(c), "no growth after slow start")

	// A fast peer is capped by RequestQueueDepth, then by its reqq.
	for range 5 {
		feed(100 << 20)
	}
	require.Equal(t, 128, tr.pipelineDepth(c))
	c.reqq = 50
	require.Equal(t, 50, tr.pipelineDepth(c))
	c.snubbed = true
	require.Equal(t, 1, tr.pipelineDepth(c))
	c.snubbed, c.reqq = false, 0

	// A peer that slows down gets a shorter pipeline, never below the
	// minimum; a tick with nothing requested and nothing received (choked)
	// changes nothing.
	for range 24 {
		feed(1 << 10)
	}
	require.Equal(t, minPipeline, tr.pipelineDepth(c))
	before := c.pipe
	feed(0)
	require.Equal(t, before.rate, c.pipe.rate)
}

func TestPipelineSlowStartCapped(t *testing.T) {
	tr, c := pipeTorrent(t, 8)
	for range 100 {
		tr.pipelineBlock(c)
	}
	require.Equal(t, 8, tr.pipelineDepth(c))
	c.downloaded.Add(1 << 20)
	tr.samplePipeline(c, time.Unix(1, 0))
	require.False(t, c.pipe.slowStart, "slow start ends at the cap")
}
