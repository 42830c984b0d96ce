package tracker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A partial seed (BEP 21) is started first, then paused on every regular
// announce; becoming a full seed earns completed, and stopped stays stopped.
func TestMultiPausedEvents(t *testing.T) {
	m, f := newFakeMulti([][]string{{"a"}, {"b"}}, &MultiConfig{AllTiers: true, Backoff: time.Nanosecond})
	ctx := t.Context()
	announce := func(left int64, ev Event) {
		t.Helper()
		_, err := m.Announce(ctx, AnnounceRequest{Left: left, Event: ev})
		require.NoError(t, err)
	}
	f["b"].setDown(true)

	// A partial seed from the start: started, then paused every time.
	announce(10, EventPaused)
	require.Equal(t, []Event{EventStarted}, f["a"].events())
	announce(10, EventPaused)
	announce(10, EventPaused)
	require.Equal(t, []Event{EventPaused, EventPaused}, f["a"].events())

	// b comes back: its first announce is still started.
	f["b"].setDown(false)
	f["b"].events()
	announce(10, EventPaused)
	require.Equal(t, []Event{EventPaused}, f["a"].events())
	require.Equal(t, []Event{EventStarted}, f["b"].events())

	// More files selected: a plain leecher again.
	announce(20, EventNone)
	require.Equal(t, []Event{EventNone}, f["a"].events())
	require.Equal(t, []Event{EventNone}, f["b"].events())

	// The whole torrent done: completed once, then plain announces; a
	// stray EventPaused with nothing left is not sent.
	announce(0, EventPaused)
	require.Equal(t, []Event{EventCompleted}, f["a"].events())
	require.Equal(t, []Event{EventCompleted}, f["b"].events())
	announce(0, EventPaused)
	require.Equal(t, []Event{EventNone}, f["a"].events())
	require.Equal(t, []Event{EventNone}, f["b"].events())

	announce(0, EventStopped)
	require.Equal(t, []Event{EventStopped}, f["a"].events())
	require.Equal(t, []Event{EventStopped}, f["b"].events())
}

func TestEventPausedNames(t *testing.T) {
	require.Equal(t, "paused", EventPaused.String())
	require.Equal(t, Event(4), EventPaused, "libtorrent's value over UDP")
	ev, ok := ParseEvent("paused")
	require.True(t, ok)
	require.Equal(t, EventPaused, ev)
}
