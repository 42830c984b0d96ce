package dht

import (
	"crypto/ed25519"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestItemStoreRules(t *testing.T) {
	st := newItemStore(2)
	_, priv, _ := ed25519.GenerateKey(nil)
	it := Item{V: []byte("3:abc"), Seq: 5}
	it.Sign(priv)
	target := it.Target()
	require.Nil(t, st.put(target, it, nil, t0))
	older := Item{V: []byte("3:old"), Seq: 4}
	older.Sign(priv)
	require.Equal(t, ErrCodeSeqTooLow, st.put(target, older, nil, t0).Code)
	same := Item{V: []byte("3:xyz"), Seq: 5}
	same.Sign(priv)
	require.Equal(t, ErrCodeSeqTooLow, st.put(target, same, nil, t0).Code)
	newer := Item{V: []byte("3:new"), Seq: 6}
	newer.Sign(priv)
	wrongCAS := int64(3)
	require.Equal(t, ErrCodeCASMismatch, st.put(target, newer, &wrongCAS, t0).Code)
	rightCAS := int64(5)
	require.Nil(t, st.put(target, newer, &rightCAS, t0))
	require.Equal(t, int64(6), st.get(target, t0).Seq)
	// Capacity: a third item evicts the oldest.
	a, b := Item{V: []byte("1:a")}, Item{V: []byte("1:b")}
	require.Nil(t, st.put(a.Target(), a, nil, t0.Add(time.Second)))
	require.Nil(t, st.put(b.Target(), b, nil, t0.Add(2*time.Second)))
	require.Len(t, st.m, 2)
	require.Nil(t, st.get(target, t0))
	// Expiry.
	require.Nil(t, st.get(a.Target(), t0.Add(itemTTL+time.Hour)))

	big := Item{V: make([]byte, MaxItemValue+1)}
	require.ErrorIs(t, big.Verify(), ErrValueTooBig)
	salty := Item{V: []byte("1:a"), Salt: make([]byte, MaxSalt+1)}
	require.ErrorIs(t, salty.Verify(), ErrSaltTooBig)
}

func TestPutGetItems(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		servers := smallDHT(t, tn, 20)
		v := []byte("12:Hello World!")
		target, n, err := servers[2].PutImmutable(t.Context(), v)
		require.NoError(t, err)
		require.Equal(t, "e5f96f6f38320f0f33959cb4d3d656452117aadb", target.String())
		require.GreaterOrEqual(t, n, 1)
		got, err := servers[15].GetImmutable(t.Context(), target)
		require.NoError(t, err)
		require.Equal(t, v, got)
		_, err = servers[15].GetImmutable(t.Context(), RandomID())
		require.ErrorIs(t, err, ErrItemNotFound)
		_, _, err = servers[2].PutImmutable(t.Context(), []byte("not bencode"))
		require.Error(t, err)

		pub, priv, _ := ed25519.GenerateKey(nil)
		salt := []byte("foobar")
		_, _, err = servers[3].PutMutable(t.Context(), priv, salt, 1, []byte("1:a"), nil)
		require.NoError(t, err)
		_, _, err = servers[3].PutMutable(t.Context(), priv, salt, 2, []byte("1:b"), nil)
		require.NoError(t, err)
		it, err := servers[11].GetMutable(t.Context(), pub, salt)
		require.NoError(t, err)
		require.Equal(t, int64(2), it.Seq)
		require.Equal(t, "1:b", string(it.V))
		// An outdated put does not replace the newer item.
		_, _, _ = servers[4].PutMutable(t.Context(), priv, salt, 1, []byte("1:c"), nil)
		it, err = servers[12].GetMutable(t.Context(), pub, salt)
		require.NoError(t, err)
		require.Equal(t, "1:b", string(it.V))
		// CAS.
		cas := int64(2)
		_, _, err = servers[4].PutMutable(t.Context(), priv, salt, 3, []byte("1:d"), &cas)
		require.NoError(t, err)
		_, err = servers[11].GetMutable(t.Context(), pub, []byte("other salt"))
		require.ErrorIs(t, err, ErrItemNotFound)
	})
}

func TestSampleInfohashes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		servers := smallDHT(t, tn, 12)
		ih := RandomID()
		_, err := servers[1].Announce(t.Context(), [20]byte(ih), 1000, false, false, nil)
		require.NoError(t, err)
		hits := 0
		for _, s := range servers {
			res, err := servers[0].SampleInfohashes(t.Context(), addrOf(s), RandomID())
			if s == servers[0] {
				continue
			}
			require.NoError(t, err)
			require.Equal(t, int64(len(res.Samples)), res.Num)
			require.Equal(t, time.Duration(sampleInterval)*time.Second, res.Interval)
			if len(res.Samples) == 1 && res.Samples[0] == ih {
				hits++
			}
		}
		require.GreaterOrEqual(t, hits, 1)
	})
}
