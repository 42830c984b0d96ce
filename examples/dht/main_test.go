package main

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/metainfo"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// localDHT starts n nodes on loopback UDP, joined to the first.
func localDHT(t *testing.T, n int) []*dht.Server {
	var out []*dht.Server
	for i := range n {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		require.NoError(t, err)
		cfg := &dht.Config{BootstrapNodes: []string{}}
		if i > 0 {
			cfg.BootstrapNodes = []string{out[0].Addr().String()}
		}
		s, err := dht.NewServer(conn, cfg)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		if i > 0 {
			require.NoError(t, s.Bootstrap(t.Context()))
		}
		out = append(out, s)
	}
	return out
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	nodes := localDHT(t, 6)
	boot := nodes[0].Addr().String()
	base := []string{"-listen", "127.0.0.1:0", "-bootstrap", boot, "-timeout", "20s"}

	ih := metainfo.Hash(dht.RandomID())
	_, err := nodes[3].Announce(t.Context(), ih, 4242, false, false, nil)
	require.NoError(t, err)
	code, out, errs := runCmd(t, append(base, "-json", "get-peers", ih.String())...)
	require.Equal(t, 0, code, errs)
	var gp struct {
		Peers        []string `json:"peers"`
		NodesQueried int      `json:"nodes_queried"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &gp))
	require.Equal(t, []string{"127.0.0.1:4242"}, gp.Peers)
	require.Positive(t, gp.NodesQueried)
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(out), &fields))
	require.Len(t, fields, 2, "one object: peers and nodes_queried, nothing else")
	require.Equal(t, 1, strings.Count(out, "\n"), "one line")
	// Without -json: one peer a line, then a summary.
	code, out, errs = runCmd(t, append(base, "get-peers", ih.String())...)
	require.Equal(t, 0, code, errs)
	require.True(t, strings.HasPrefix(out, "127.0.0.1:4242\n"), out)

	code, out, errs = runCmd(t, append(base, "ping", boot)...)
	require.Equal(t, 0, code, errs)
	require.Equal(t, nodes[0].ID().String()+" "+boot+"\n", out)

	code, out, errs = runCmd(t, append(base, "-json", "find-node", nodes[2].ID().String())...)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, nodes[2].ID().String())

	code, out, errs = runCmd(t, append(base, "-json", "announce", metainfo.Hash(dht.RandomID()).String(), "7000")...)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, `"accepted":`)

	code, out, errs = runCmd(t, append(base, "put", "hello dht")...)
	require.Equal(t, 0, code, errs)
	target := strings.Fields(out)[0]
	require.Equal(t, dht.ImmutableTarget([]byte("9:hello dht")).String(), target)
	code, out, errs = runCmd(t, append(base, "get", target)...)
	require.Equal(t, 0, code, errs)
	require.Equal(t, "hello dht\n", out)

	code, out, errs = runCmd(t, append(base, "-json", "sample", nodes[3].Addr().String())...)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, `"samples":`)
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-listen", "127.0.0.1:0", "bogus"},
		{"-listen", "127.0.0.1:0", "ping"},
		{"-listen", "127.0.0.1:0", "ping", "not-an-addr"},
		{"-listen", "127.0.0.1:0", "get-peers", "xyz"},
		{"-listen", "127.0.0.1:0", "-bootstrap", "127.0.0.1:1", "announce", strings.Repeat("a", 40), "0"},
		{"-nosuchflag"},
	} {
		code, _, errs := runCmd(t, args...)
		require.Equal(t, 2, code, "%v: %s", args, errs)
	}
	// No reachable bootstrap node: an error, status 1.
	code, _, errs := runCmd(t, "-listen", "127.0.0.1:0", "-bootstrap", "127.0.0.1:1", "-timeout", "5s", "get-peers", strings.Repeat("a", 40))
	require.Equal(t, 1, code)
	require.Contains(t, errs, "bootstrap")
}
