package tracker

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bittern/bittern/bencode"
)

func TestErrorTypes(t *testing.T) {
	se := &StatusError{Code: 502, Status: "502 Bad Gateway"}
	require.Equal(t, "tracker: HTTP status 502 Bad Gateway", se.Error())
	require.Equal(t, "tracker: failure: no", (&FailureError{Reason: "no"}).Error())

	_, err := ParseAnnounceResponse([]byte("d8:intervali1e"))
	var me *MalformedError
	require.ErrorAs(t, err, &me)
	require.ErrorIs(t, err, ErrMalformed)
	var syn *bencode.SyntaxError
	require.True(t, errors.As(err, &syn), "the decoder error is wrapped")
	require.Contains(t, me.Error(), "tracker: malformed response: announce: ")
	require.Equal(t, "tracker: malformed response: udp: short", malformed("udp", "short").Error())
}

func TestClientURLsAndNumWant(t *testing.T) {
	for _, u := range []string{"http://h/announce", "https://h/a", "udp://h:1", "udp://h:1/announce"} {
		tr, err := New(u, nil)
		require.NoError(t, err)
		require.Equal(t, u, tr.URL())
		require.NoError(t, tr.Close())
	}
	for _, u := range []string{"wss://h/announce", "::", "http:///announce"} {
		_, err := New(u, nil)
		require.Error(t, err, u)
	}
	for _, c := range []struct {
		req  AnnounceRequest
		want int32
	}{
		{AnnounceRequest{}, -1},
		{AnnounceRequest{NumWant: 30}, 30},
		{AnnounceRequest{NumWant: -5}, 0},
		{AnnounceRequest{NumWant: 30, Event: EventStopped}, 0},
		{AnnounceRequest{NumWant: math.MaxInt}, 1 << 20},
	} {
		require.Equal(t, c.want, udpNumWant(c.req), "%+v", c.req)
	}
	require.Equal(t, uint32(0), satU32(-1))
	require.Equal(t, uint32(math.MaxUint32), satU32(math.MaxInt))
}
