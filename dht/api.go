package dht

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/bittern/bittern/metainfo"
)

// Ping asks the node at addr for its ID. A node that answers enters the
// routing table.
func (s *Server) Ping(ctx context.Context, addr netip.AddrPort) (ID, error) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	m, err := s.query(ctx, addr, methodPing, &Args{})
	if err != nil {
		return ID{}, err
	}
	return ID([]byte(m.R.ID)), nil
}

// FindNode runs an iterative find_node lookup and returns the up to K
// closest nodes to target that answered.
func (s *Server) FindNode(ctx context.Context, target ID) ([]NodeInfo, error) {
	want := s.want()
	l := s.newLookup(target, methodFindNode, func() *Args {
		return &Args{Target: string(target[:]), Want: want}
	}, nil)
	st, err := l.run(ctx)
	if err != nil {
		return nil, err
	}
	return st.Closest, nil
}

// GetPeers runs an iterative get_peers lookup for ih and calls found, on
// the caller's goroutine, for each distinct peer as it arrives. It returns
// when the K closest nodes have answered (or ctx ends).
func (s *Server) GetPeers(ctx context.Context, ih metainfo.Hash, found func(netip.AddrPort)) (*LookupStats, error) {
	st, _, err := s.getPeers(ctx, ih, found)
	return st, err
}

// FindPeers is GetPeers without the statistics; it makes *Server a peer
// source for the Session.
func (s *Server) FindPeers(ctx context.Context, ih metainfo.Hash, found func(netip.AddrPort)) error {
	_, err := s.GetPeers(ctx, ih, found)
	return err
}

// Scrape runs a get_peers lookup asking for BEP 33 scrape bloom filters and
// returns the estimated numbers of seeds and downloaders.
func (s *Server) Scrape(ctx context.Context, ih metainfo.Hash) (seeds, peers float64, err error) {
	s.mu.Lock()
	bfsd, bfpe := s.peers.scrape(ID(ih), time.Now()) // what was announced to us counts too
	s.mu.Unlock()
	l := s.peersLookup(ih, nil, true, func(r *Return) {
		if len(r.BFsd) == bloomBytes && len(r.BFpe) == bloomBytes {
			bfsd.union((*bloom)([]byte(r.BFsd)))
			bfpe.union((*bloom)([]byte(r.BFpe)))
		}
	})
	if _, err := l.run(ctx); err != nil {
		return 0, 0, err
	}
	return bfsd.estimate(), bfpe.estimate(), nil
}

func (s *Server) peersLookup(ih metainfo.Hash, found func(netip.AddrPort), scrape bool, extra func(*Return)) *lookup {
	want := s.want()
	seen := make(map[netip.AddrPort]bool)
	var l *lookup
	sc := 0
	if scrape {
		sc = 1
	}
	l = s.newLookup(ID(ih), methodGetPeers, func() *Args {
		return &Args{InfoHash: string(ih[:]), Want: want, Scrape: sc}
	}, func(c *candidate, r *Return) {
		if extra != nil {
			extra(r)
		}
		for i, v := range r.Values {
			if i == 4*maxValuesPerReply {
				break
			}
			p, ok := parseCompactAddr([]byte(v))
			if !ok || p.Port() == 0 || seen[p] {
				continue
			}
			seen[p] = true
			if l.stats.FirstPeerRoundTrip == 0 {
				l.stats.FirstPeerRoundTrip = c.depth
			}
			if found != nil {
				found(p)
			}
		}
	})
	l.seenPeers = seen
	return l
}

func (s *Server) getPeers(ctx context.Context, ih metainfo.Hash, found func(netip.AddrPort)) (*LookupStats, *lookup, error) {
	// We are a node too: peers announced to us count.
	s.mu.Lock()
	now := time.Now()
	local := append(s.peers.get(ID(ih), DefaultMaxPeersPerInfoHash, false, false, now),
		s.peers.get(ID(ih), DefaultMaxPeersPerInfoHash, true, false, now)...)
	s.mu.Unlock()
	if found != nil {
		for _, p := range local {
			found(p)
		}
	}
	l := s.peersLookup(ih, found, false, nil)
	for _, p := range local {
		l.seenPeers[p] = true
	}
	st, err := l.run(ctx)
	return st, l, err
}

// AnnounceError is returned by Announce when no node accepted it.
type AnnounceError struct {
	Tried int   // nodes announced to
	Last  error // the last failure
}

// Error describes the failure.
func (e *AnnounceError) Error() string {
	return fmt.Sprintf("dht: announce accepted by none of %d nodes: %v", e.Tried, e.Last)
}

// Unwrap returns the last failure, so errors.Is and errors.As see it.
func (e *AnnounceError) Unwrap() error { return e.Last }

// Announce looks up ih, calling found for peers met on the way (found may
// be nil), and announces that we are a peer on port to the K closest nodes
// that gave a token. With impliedPort the nodes use our UDP source port
// instead (BEP 5 implied_port, for peers behind NAT that share the
// socket with uTP). seed marks us as a seed (BEP 33). It returns the
// number of nodes that accepted.
func (s *Server) Announce(ctx context.Context, ih metainfo.Hash, port int, impliedPort, seed bool, found func(netip.AddrPort)) (int, error) {
	if !impliedPort && (port <= 0 || port > 65535) {
		return 0, fmt.Errorf("dht: announce port %d out of range", port)
	}
	_, l, err := s.getPeers(ctx, ih, found)
	if err != nil {
		return 0, err
	}
	targets := l.closestWithTokens()
	a := &Args{InfoHash: string(ih[:]), Port: port}
	if impliedPort {
		a.ImpliedPort = 1
	}
	if seed {
		a.Seed = 1
	}
	return s.storeTo(ctx, targets, methodAnnouncePeer, func(c *candidate) *Args {
		aa := *a
		aa.Token = c.token
		return &aa
	})
}

// storeTo sends a storing query (announce_peer, put) to each target in
// parallel and counts the acceptances.
func (s *Server) storeTo(ctx context.Context, targets []*candidate, method string, args func(*candidate) *Args) (int, error) {
	if len(targets) == 0 {
		return 0, &AnnounceError{Last: ErrNoNodes}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := 0
	var last error
	for _, c := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.query(ctx, c.Addr, method, args(c))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				last = err
				return
			}
			ok++
		}()
	}
	wg.Wait()
	if ok == 0 {
		return 0, &AnnounceError{Tried: len(targets), Last: last}
	}
	return ok, nil
}

// Bootstrap joins the DHT: it asks the bootstrap nodes (Config.BootstrapNodes)
// and the nodes already in the table for nodes near our own ID, then runs a
// lookup of our ID, which fills the routing table. It fails if no node
// answered.
func (s *Server) Bootstrap(ctx context.Context) error {
	addrs := s.resolveBootstrap(ctx)
	self := s.ID()
	var wg sync.WaitGroup
	for _, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := s.query(ctx, a, methodFindNode, &Args{Target: string(self[:]), Want: s.want()})
			if err != nil {
				return
			}
			// Routers are often not DHT nodes themselves: ping what they
			// name so those enter the table.
			for _, list := range []struct {
				s  string
				v6 bool
			}{{m.R.Nodes, false}, {m.R.Nodes6, true}} {
				nodes, _ := parseCompactNodes(list.s, list.v6, 2*K)
				for _, n := range nodes {
					if s.usable(n.Addr) {
						s.pingLater(n.Addr)
					}
				}
			}
		}()
	}
	wg.Wait()
	_, err := s.FindNode(ctx, self)
	if err != nil && !errors.Is(err, ErrNoNodes) && !errors.Is(err, ErrNoResponse) {
		return err
	}
	if st := s.Stats(); st.Nodes+st.Nodes6 == 0 {
		return ErrNoNodes
	}
	return nil
}

func (s *Server) resolveBootstrap(ctx context.Context) []netip.AddrPort {
	var out []netip.AddrPort
	for _, hp := range s.cfg.BootstrapNodes {
		if ap, err := netip.ParseAddrPort(hp); err == nil {
			if s.usable(ap) {
				out = append(out, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
			}
			continue
		}
		host, ps, err := net.SplitHostPort(hp)
		if err != nil {
			s.log.Debug("dht: bad bootstrap node", "node", hp, "err", err)
			continue
		}
		port, err := strconv.ParseUint(ps, 10, 16)
		if err != nil || port == 0 {
			continue
		}
		var ips []netip.Addr
		if s.cfg.Resolve != nil {
			ips, err = s.cfg.Resolve(ctx, host)
		} else {
			ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
		if err != nil {
			s.log.Debug("dht: resolving bootstrap node", "node", hp, "err", err)
			continue
		}
		for _, ip := range ips {
			ap := netip.AddrPortFrom(ip.Unmap(), uint16(port))
			if s.usable(ap) {
				out = append(out, ap)
			}
		}
	}
	return out
}
