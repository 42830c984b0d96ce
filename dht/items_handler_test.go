package dht

import (
	"crypto/ed25519"
	"net/netip"
	"strings"
	"testing"

	"github.com/bittern/bittern/bencode"
	"github.com/stretchr/testify/require"
)

// TestPutGetHandler checks a node's answers to BEP 44 get and put queries:
// tokens, size limits, signatures, seq and cas, each refusal with its
// error code.
func TestPutGetHandler(t *testing.T) {
	s := newHandlerOnly()
	rc := s.conn.(*recordConn)
	from := netip.MustParseAddrPort("10.0.0.7:7")
	ask := func(q string, a *Args) *Msg {
		t.Helper()
		rc.sent = nil
		a.ID = "abcdefghij0123456789"
		s.handlePacket(encode(t, &Msg{T: "t1", Y: typeQuery, Q: q, A: a}), from)
		require.Len(t, rc.sent, 1)
		var m Msg
		require.NoError(t, DecodeMsg(rc.sent[0], &m))
		return &m
	}
	code := func(m *Msg) int {
		t.Helper()
		require.Equal(t, typeError, m.Y, "%+v", m.R)
		return m.E.Code
	}

	_, priv, _ := ed25519.GenerateKey(nil)
	salt := []byte("salt")
	it := Item{V: []byte("5:first"), Salt: salt, Seq: 3}
	it.Sign(priv)
	target := it.Target()
	g := ask(methodGet, &Args{Target: string(target[:])})
	require.NotEmpty(t, g.R.Token)
	require.Empty(t, g.R.V, "nothing stored yet")
	require.NotEmpty(t, g.R.Nodes, "nodes closer to the target")
	tok := g.R.Token
	put := func(it Item, cas *int64, token string) *Msg {
		seq := it.Seq
		return ask(methodPut, &Args{Token: token, V: it.V, K: string(it.K[:]), Sig: string(it.Sig[:]), Seq: &seq, Salt: string(it.Salt), CAS: cas})
	}

	require.Equal(t, ErrCodeProtocol, code(put(it, nil, "badtoken")), "token checked")
	require.Equal(t, ErrCodeProtocol, code(put(it, nil, "")), "token required")
	require.Equal(t, typeResponse, put(it, nil, tok).Y)

	g = ask(methodGet, &Args{Target: string(target[:])})
	require.Equal(t, "5:first", string(g.R.V))
	require.Equal(t, int64(3), *g.R.Seq)
	require.Equal(t, string(it.K[:]), g.R.K)
	require.Equal(t, string(it.Sig[:]), g.R.Sig)
	have := int64(3)
	g = ask(methodGet, &Args{Target: string(target[:]), Seq: &have})
	require.Equal(t, int64(3), *g.R.Seq)
	require.Empty(t, g.R.V, "the requester has this seq already: no value")
	require.Empty(t, g.R.Sig)

	bad := it
	bad.Sig[0] ^= 1
	require.Equal(t, ErrCodeBadSignature, code(put(bad, nil, tok)))
	older := Item{V: []byte("3:old"), Salt: salt, Seq: 2}
	older.Sign(priv)
	require.Equal(t, ErrCodeSeqTooLow, code(put(older, nil, tok)))
	newer := Item{V: []byte("3:new"), Salt: salt, Seq: 4}
	newer.Sign(priv)
	wrong := int64(2)
	require.Equal(t, ErrCodeCASMismatch, code(put(newer, &wrong, tok)))
	right := int64(3)
	require.Equal(t, typeResponse, put(newer, &right, tok).Y)

	big := Item{V: bencode.AppendString(nil, strings.Repeat("x", MaxItemValue)), Seq: 1}
	big.Sign(priv)
	require.Equal(t, ErrCodeTooBig, code(put(big, nil, tok)))
	salty := Item{V: []byte("1:a"), Salt: make([]byte, MaxSalt+1), Seq: 1}
	salty.Sign(priv)
	require.Equal(t, ErrCodeSaltTooBig, code(put(salty, nil, tok)))
	require.Equal(t, ErrCodeProtocol, code(ask(methodPut, &Args{Token: tok, V: []byte("1:a"), K: string(it.K[:])})), "mutable put without sig and seq")
	require.Equal(t, ErrCodeProtocol, code(ask(methodPut, &Args{Token: tok})), "no v")

	// Immutable: stored under the SHA-1 of v, salt and cas refused.
	v := []byte("12:Hello World!")
	require.Equal(t, typeResponse, ask(methodPut, &Args{Token: tok, V: v}).Y)
	imm := ImmutableTarget(v)
	g = ask(methodGet, &Args{Target: string(imm[:])})
	require.Equal(t, string(v), string(g.R.V))
	require.Nil(t, g.R.Seq)
	require.Equal(t, ErrCodeProtocol, code(ask(methodPut, &Args{Token: tok, V: v, Salt: "s"})))
	require.Equal(t, 2, s.Stats().Items)
}
