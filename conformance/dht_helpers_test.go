//go:build interop

package conformance

import (
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/bittern/bittern/dht"
)

// testWriter sends a logger's output to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(b))
	return len(b), nil
}

// dhtLibtorrentScript runs two libtorrent sessions with the DHT on, both
// bootstrapped from our node. Arguments: our UDP port, the two sessions'
// ports, an info-hash session A announces (as a torrent), an info-hash and
// an immutable item target it keeps looking up, how long to run in
// seconds, then for BEP 44 mutable items (hex): the public key and salt it
// looks up, and the expanded secret key, public key and salt it puts with. It prints one line per event:
//
//	READY
//	PUT_TARGET <hex>                  (A put an immutable item)
//	PUT <session> <hex> <n>           (the put finished, stored on n nodes)
//	PEERS <session> <ih> <ip:port>... (get_peers results)
//	ITEM <session> <hex> <value>      (get of an immutable item)
//	STATS <session> <n>               (nodes in its routing table)
//	MITEM <session> <key> <seq> <value> (get of a mutable item)
//	LIVE <session> <id>@<ip:port>...  (the nodes in its routing table)
const dhtLibtorrentScript = `
import libtorrent as lt, sys, time, binascii, warnings

warnings.simplefilter('ignore', DeprecationWarning)  # dht_state(): the only way to learn our node ID
our_port, port_a, port_b, ih_lt, ih_go, go_target, duration = sys.argv[1:8]
# BEP 44 mutable items: the key and salt of the item we look up, and the
# key pair (libtorrent's 64-byte expanded secret key) and salt A puts with.
go_pub, go_salt, lt_sk, lt_pk, lt_salt = [binascii.unhexlify(x) for x in sys.argv[8:13]]
our_port, port_a, port_b, duration = int(our_port), int(port_a), int(port_b), float(duration)

def out(*a):
    print(*a, flush=True)

def make(port):
    mask = (lt.alert.category_t.dht_notification | lt.alert.category_t.dht_operation_notification |
            lt.alert.category_t.status_notification | lt.alert.category_t.error_notification)
    s = lt.session({
        'listen_interfaces': '127.0.0.1:%d' % port,
        'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        # Not a bootstrap router: libtorrent keeps routers out of its routing
        # table, and it must hold (and find) our node. add_dht_node pings us.
        'dht_bootstrap_nodes': '',
        'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
        'dht_prefer_verified_node_ids': False, 'dht_enforce_node_id': False,
        'dht_ignore_dark_internet': False, 'dht_announce_interval': 5,
        'allow_multiple_connections_per_ip': True, 'alert_mask': mask,
        # Every node is 127.0.0.1: lift the per-IP query block and the
        # DHT upload cap, which would otherwise silence the loopback DHT.
        'dht_block_ratelimit': 100000, 'dht_upload_rate_limit': 1000000,
    })
    s.add_dht_node(('127.0.0.1', our_port))
    return s

a = make(port_a)
b = make(port_b)
b.add_dht_node(('127.0.0.1', port_a))
a.add_dht_node(('127.0.0.1', port_b))
out('READY')

atp = lt.add_torrent_params()
atp.info_hashes = lt.info_hash_t(lt.sha1_hash(binascii.unhexlify(ih_lt)))
atp.save_path = '/tmp'
atp.flags &= ~lt.torrent_flags.paused
atp.flags &= ~lt.torrent_flags.auto_managed
a.add_torrent(atp)

put_done = False
deadline = time.time() + duration
last = 0
while time.time() < deadline:
    if time.time() - last > 2:
        last = time.time()
        if not put_done and a.is_dht_running():
            t = a.dht_put_immutable_item('bittern interop: put by libtorrent')
            out('PUT_TARGET', str(t))
            a.dht_put_mutable_item(lt_sk, lt_pk, 'mutable put by libtorrent', lt_salt)
            put_done = True
        a.dht_get_peers(lt.sha1_hash(binascii.unhexlify(ih_go)))
        a.dht_get_immutable_item(lt.sha1_hash(binascii.unhexlify(go_target)))
        a.dht_get_mutable_item(go_pub, go_salt)
        a.post_dht_stats()
        for ses in (a, b):
            # Our own node ID, to ask for the nodes in our routing table.
            for nid in ses.dht_state().get(b'node-id', []):
                ses.dht_live_nodes(lt.sha1_hash(nid[:20]))
    for ses, name in ((a, 'A'), (b, 'B')):
        for al in ses.pop_alerts():
            if isinstance(al, lt.dht_get_peers_reply_alert):
                out('PEERS', name, str(al.info_hash), ' '.join('%s:%d' % p for p in al.peers()))
            elif isinstance(al, lt.dht_immutable_item_alert):
                try:
                    v = al.item
                except RuntimeError:
                    continue  # not found: an empty entry
                if isinstance(v, dict) and 'value' in v:
                    v = v['value']
                out('ITEM', name, str(al.target), repr(v))
            elif isinstance(al, lt.dht_mutable_item_alert):
                try:
                    v = al.item
                except RuntimeError:
                    continue
                if isinstance(v, dict) and 'value' in v:
                    v = v['value']
                out('MITEM', name, binascii.hexlify(al.key).decode(), al.seq, repr(v))
            elif isinstance(al, lt.dht_put_alert):
                out('PUT', name, str(al.target), al.num_success)
            elif isinstance(al, lt.dht_live_nodes_alert):
                out('LIVE', name, ' '.join('%s@%s:%d' % (n['nid'], n['endpoint'][0], n['endpoint'][1]) for n in al.nodes))
            elif isinstance(al, lt.dht_stats_alert):
                out('STATS', name, sum(bk['num_nodes'] for bk in al.routing_table))
            elif isinstance(al, (lt.dht_bootstrap_alert,)):
                out('BOOTSTRAP', name)
    time.sleep(0.1)
out('DONE')
`

// dhtLibtorrentV6Script runs one libtorrent session with the DHT on ::1,
// bootstrapped from our node, that announces an info-hash (as a torrent)
// and keeps looking up another. Arguments: our UDP port, its port, the
// info-hash it announces, the one it looks up, and how long to run in
// seconds. It prints READY, then PEERS <ih> <[ip]:port>... lines.
const dhtLibtorrentV6Script = `
import libtorrent as lt, sys, time, binascii

our_port, port, ih_lt, ih_go, duration = sys.argv[1:6]
our_port, port, duration = int(our_port), int(port), float(duration)

def out(*a):
    print(*a, flush=True)

mask = lt.alert.category_t.dht_notification | lt.alert.category_t.dht_operation_notification
s = lt.session({
    'listen_interfaces': '[::1]:%d' % port,
    'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'dht_bootstrap_nodes': '[::1]:%d' % our_port,
    'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
    'dht_prefer_verified_node_ids': False, 'dht_enforce_node_id': False,
    'dht_ignore_dark_internet': False, 'dht_announce_interval': 5,
    'dht_block_ratelimit': 100000, 'dht_upload_rate_limit': 1000000,
    'allow_multiple_connections_per_ip': True, 'alert_mask': mask,
})
s.add_dht_node(('::1', our_port))
out('READY')
atp = lt.add_torrent_params()
atp.info_hashes = lt.info_hash_t(lt.sha1_hash(binascii.unhexlify(ih_lt)))
atp.save_path = '/tmp'
atp.flags &= ~lt.torrent_flags.paused
atp.flags &= ~lt.torrent_flags.auto_managed
s.add_torrent(atp)
deadline = time.time() + duration
last = 0
while time.time() < deadline:
    if time.time() - last > 2:
        last = time.time()
        s.dht_get_peers(lt.sha1_hash(binascii.unhexlify(ih_go)))
    for al in s.pop_alerts():
        if isinstance(al, lt.dht_get_peers_reply_alert):
            out('PEERS', str(al.info_hash), ' '.join('[%s]:%d' % p for p in al.peers()))
    time.sleep(0.1)
out('DONE')
`

// sniffConn is a net.PacketConn that records the KRPC queries it reads:
// which methods each source sent us, for tests that check what a real
// implementation asked.
type sniffConn struct {
	net.PacketConn
	mu      sync.Mutex
	queries map[netip.AddrPort]map[string]int
}

func newSniffConn(c net.PacketConn) *sniffConn {
	return &sniffConn{PacketConn: c, queries: make(map[netip.AddrPort]map[string]int)}
}

// ReadFrom reads from the wrapped conn and notes a KRPC query's method.
func (c *sniffConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.PacketConn.ReadFrom(b)
	if err != nil {
		return n, from, err
	}
	var m dht.Msg
	if ua, ok := from.(*net.UDPAddr); ok && dht.DecodeMsg(b[:n], &m) == nil && m.Y == "q" {
		ap := ua.AddrPort()
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		c.mu.Lock()
		if c.queries[ap] == nil {
			c.queries[ap] = make(map[string]int)
		}
		c.queries[ap][m.Q]++
		c.mu.Unlock()
	}
	return n, from, err
}

// queriesFrom returns a copy of the query counts by method from one source.
func (c *sniffConn) queriesFrom(from netip.AddrPort) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int)
	for k, v := range c.queries[from] {
		out[k] = v
	}
	return out
}
