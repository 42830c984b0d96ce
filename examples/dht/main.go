// Command dht runs one query or lookup on the BitTorrent mainline DHT.
//
//	dht [-listen ADDR] [-bootstrap HOST:PORT]... [-timeout D] [-json] COMMAND
//
// Commands:
//
//	ping ADDR                    ask the node at ADDR (ip:port) for its ID
//	find-node HEX                the 8 closest nodes to a 40-hex-digit ID
//	get-peers INFOHASH_HEX       peers of a torrent
//	announce INFOHASH_HEX PORT   announce that we have a torrent on PORT
//	put VALUE                    store VALUE (as a bencoded string) immutably
//	get TARGET_HEX               fetch an immutable item
//	sample ADDR                  ask the node at ADDR for a sample of its info-hashes
//
// Every command except ping and sample first bootstraps: from the
// -bootstrap nodes (repeatable; default the well-known routers). With
// -json the result is one JSON object: get-peers prints {"peers":
// ["ip:port", ...], "nodes_queried": N}; ping {"id", "addr"}; find-node
// {"nodes": [{"id", "addr"}]}; announce {"accepted", "peers"}; put
// {"target", "stored"}; get {"target", "value"}; sample {"samples", "num",
// "interval_seconds", "nodes"}. Errors exit with status 1 and one line on
// stderr; a bad command line exits with status 2.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/metainfo"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

type nodeJSON struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}

func nodesJSON(ns []dht.NodeInfo) []nodeJSON {
	out := make([]nodeJSON, 0, len(ns))
	for _, n := range ns {
		out = append(out, nodeJSON{n.ID.String(), n.Addr.String()})
	}
	return out
}

type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dht", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "0.0.0.0:0", "UDP address to listen on")
	var boot listFlag
	fs.Var(&boot, "bootstrap", "bootstrap node HOST:PORT (repeatable; default: the well-known routers)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dht [-listen ADDR] [-bootstrap HOST:PORT]... [-json] COMMAND ARGS\n"+
			"commands: ping ADDR | find-node HEX | get-peers INFOHASH | announce INFOHASH PORT | put VALUE | get TARGET | sample ADDR")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	conn, err := net.ListenPacket("udp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "dht:", err)
		return 1
	}
	// A one-shot command is a BEP 43 read-only node: it leaves before
	// anyone could use it, so it asks others not to add it to their tables.
	cfg := &dht.Config{ReadOnly: true}
	if len(boot) > 0 {
		cfg.BootstrapNodes = boot
	}
	s, err := dht.NewServer(conn, cfg)
	if err != nil {
		conn.Close()
		fmt.Fprintln(stderr, "dht:", err)
		return 1
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	res, text, err := command(ctx, s, fs.Args())
	if err != nil {
		var ue errUsage
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, "dht:", err)
			fs.Usage()
			return 2
		}
		fmt.Fprintln(stderr, "dht:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(stderr, "dht:", err)
			return 1
		}
		return 0
	}
	fmt.Fprint(stdout, text)
	return 0
}

func needArgs(args []string, n int) error {
	if len(args) != n+1 {
		return errUsage{fmt.Sprintf("%s takes %d argument(s)", args[0], n)}
	}
	return nil
}

func parseAddr(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return ap, errUsage{fmt.Sprintf("address %q: want IP:PORT", s)}
	}
	return ap, nil
}

// command runs one command and returns its JSON value and its text form.
func command(ctx context.Context, s *dht.Server, args []string) (any, string, error) {
	var b strings.Builder
	switch args[0] {
	case "ping":
		if err := needArgs(args, 1); err != nil {
			return nil, "", err
		}
		addr, err := parseAddr(args[1])
		if err != nil {
			return nil, "", err
		}
		id, err := s.Ping(ctx, addr)
		if err != nil {
			return nil, "", err
		}
		return nodeJSON{id.String(), addr.String()}, fmt.Sprintf("%s %s\n", id, addr), nil
	case "sample":
		if err := needArgs(args, 1); err != nil {
			return nil, "", err
		}
		addr, err := parseAddr(args[1])
		if err != nil {
			return nil, "", err
		}
		r, err := s.SampleInfohashes(ctx, addr, dht.RandomID())
		if err != nil {
			return nil, "", err
		}
		samples := make([]string, 0, len(r.Samples))
		for _, ih := range r.Samples {
			samples = append(samples, ih.String())
			fmt.Fprintln(&b, ih)
		}
		fmt.Fprintf(&b, "%d samples of %d info-hashes; ask again in %v\n", len(r.Samples), r.Num, r.Interval)
		return struct {
			Samples  []string   `json:"samples"`
			Num      int64      `json:"num"`
			Interval int64      `json:"interval_seconds"`
			Nodes    []nodeJSON `json:"nodes"`
		}{samples, r.Num, int64(r.Interval / time.Second), nodesJSON(r.Nodes)}, b.String(), nil
	}

	// The rest need a routing table.
	var target dht.ID
	var port int
	switch args[0] {
	case "find-node", "get-peers", "get":
		if err := needArgs(args, 1); err != nil {
			return nil, "", err
		}
		id, err := dht.ParseID(args[1])
		if err != nil {
			return nil, "", errUsage{err.Error()}
		}
		target = id
	case "announce":
		if err := needArgs(args, 2); err != nil {
			return nil, "", err
		}
		id, err := dht.ParseID(args[1])
		if err != nil {
			return nil, "", errUsage{err.Error()}
		}
		target = id
		if port, err = strconv.Atoi(args[2]); err != nil || port <= 0 || port > 65535 {
			return nil, "", errUsage{fmt.Sprintf("port %q: want 1..65535", args[2])}
		}
	case "put":
		if err := needArgs(args, 1); err != nil {
			return nil, "", err
		}
	default:
		return nil, "", errUsage{fmt.Sprintf("unknown command %q", args[0])}
	}
	if err := s.Bootstrap(ctx); err != nil {
		return nil, "", fmt.Errorf("bootstrap: %w", err)
	}
	switch args[0] {
	case "find-node":
		nodes, err := s.FindNode(ctx, target)
		if err != nil {
			return nil, "", err
		}
		for _, n := range nodes {
			fmt.Fprintf(&b, "%s %s\n", n.ID, n.Addr)
		}
		return struct {
			Nodes []nodeJSON `json:"nodes"`
		}{nodesJSON(nodes)}, b.String(), nil
	case "get-peers":
		peers := []string{}
		st, err := s.GetPeers(ctx, metainfo.Hash(target), func(p netip.AddrPort) {
			peers = append(peers, p.String())
			fmt.Fprintln(&b, p)
		})
		if err != nil {
			return nil, "", err
		}
		fmt.Fprintf(&b, "%d peers from %d nodes queried\n", len(peers), st.Queried)
		return struct {
			Peers        []string `json:"peers"`
			NodesQueried int      `json:"nodes_queried"`
		}{peers, st.Queried}, b.String(), nil
	case "announce":
		peers := []string{}
		n, err := s.Announce(ctx, metainfo.Hash(target), port, false, false, func(p netip.AddrPort) { peers = append(peers, p.String()) })
		if err != nil {
			return nil, "", err
		}
		fmt.Fprintf(&b, "announced to %d nodes; %d peers seen\n", n, len(peers))
		return struct {
			Accepted int      `json:"accepted"`
			Peers    []string `json:"peers"`
		}{n, peers}, b.String(), nil
	case "put":
		v := bencode.AppendString(nil, args[1])
		t, n, err := s.PutImmutable(ctx, v)
		if err != nil {
			return nil, "", err
		}
		fmt.Fprintf(&b, "%s stored on %d nodes\n", t, n)
		return struct {
			Target string `json:"target"`
			Stored int    `json:"stored"`
		}{t.String(), n}, b.String(), nil
	default: // get
		v, err := s.GetImmutable(ctx, target)
		if err != nil {
			return nil, "", err
		}
		var str string
		val := string(v)
		if bencode.Unmarshal(v, &str) == nil {
			val = str
		}
		fmt.Fprintln(&b, val)
		return struct {
			Target string `json:"target"`
			Value  string `json:"value"`
			Raw    string `json:"raw_hex"`
		}{target.String(), val, hex.EncodeToString(v)}, b.String(), nil
	}
}
