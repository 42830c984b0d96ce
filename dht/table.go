package dht

import (
	"net/netip"
	"slices"
	"time"
)

// Routing table parameters (BEP 5).
const (
	// K is the bucket size and the number of closest nodes a lookup settles on.
	K = 8
	// goodFor is how long a node stays good after it last answered us or
	// queried us (having answered before).
	goodFor = 15 * time.Minute
	// maxFailures is how many queries in a row a node may fail before it is bad.
	maxFailures = 2
	// replacementSize bounds each bucket's replacement cache.
	replacementSize = K
)

// node is a routing table entry.
type node struct {
	NodeInfo
	lastReply time.Time // last response from it
	lastQuery time.Time // last query from it
	failures  int       // queries in a row it failed to answer
}

func (n *node) good(now time.Time) bool {
	if n.failures > 0 || n.lastReply.IsZero() {
		return false
	}
	return now.Sub(n.lastReply) < goodFor || now.Sub(n.lastQuery) < goodFor
}

func (n *node) bad() bool { return n.failures >= maxFailures }

// lastSeen is the last time n answered or queried us.
func (n *node) lastSeen() time.Time {
	if n.lastQuery.After(n.lastReply) {
		return n.lastQuery
	}
	return n.lastReply
}

// verified reports whether n has answered us at least once and is not bad:
// only such nodes are handed to others, used to seed lookups and saved.
func (n *node) verified() bool { return !n.lastReply.IsZero() && !n.bad() }

// kbucket holds up to K nodes and a replacement cache.
type kbucket struct {
	nodes        []*node
	replacements []*node
	changed      time.Time // last time a node was added or answered
}

func (b *kbucket) find(id ID) int {
	return slices.IndexFunc(b.nodes, func(n *node) bool { return n.ID == id })
}

// table is a Kademlia routing table for one address family. Buckets are
// indexed by the length of the prefix a node shares with our ID; the last
// bucket holds every node sharing at least that many bits and is the only
// one that splits, which is the BEP 5 splitting rule. Not safe for
// concurrent use.
type table struct {
	self    ID
	buckets []*kbucket
	count   int
	// restrictIPs keeps at most one node per /24 (IPv4) or /64 (IPv6) of
	// public addresses in each bucket, as libtorrent does, so that one
	// host cannot fill a bucket with made-up IDs.
	restrictIPs bool
}

func newTable(self ID, now time.Time) *table {
	return &table{self: self, buckets: []*kbucket{{changed: now}}}
}

func (t *table) bucketIndex(id ID) int {
	return min(t.self.CommonPrefixLen(id), len(t.buckets)-1)
}

// lookup returns the entry for id, or nil.
func (t *table) lookup(id ID) *node {
	b := t.buckets[t.bucketIndex(id)]
	if i := b.find(id); i >= 0 {
		return b.nodes[i]
	}
	return nil
}

// insertResult says what insert did.
type insertResult int

const (
	inserted insertResult = iota
	updated
	replacedBad
	cached         // the bucket was full; the node went to the replacement cache
	rejectedSelf   // our own ID
	rejectedSubnet // the bucket already has a node from the same subnet
)

// subnetTaken reports whether b (nodes or replacements) already holds a
// node in ip's /24 or /64. Private, loopback and other non-public
// addresses are never restricted: LANs and tests put many nodes there.
func (t *table) subnetTaken(b *kbucket, ip netip.Addr) bool {
	if bep42Exempt(ip) {
		return false
	}
	key := subnetOf(ip)
	for _, list := range [][]*node{b.nodes, b.replacements} {
		for _, n := range list {
			if subnetOf(n.Addr.Addr()) == key {
				return true
			}
		}
	}
	return false
}

func subnetOf(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p
}

// insert adds or refreshes a node that has just answered us (replied) or
// queried us. A node that only queried us is accepted as unverified: it
// becomes good when it answers. It returns what happened and, if the bucket
// is full of nodes some of which are questionable, the questionable node
// that should be pinged.
func (t *table) insert(ni NodeInfo, replied bool, now time.Time) (insertResult, *node) {
	if ni.ID == t.self {
		return rejectedSelf, nil
	}
	for {
		idx := t.bucketIndex(ni.ID)
		b := t.buckets[idx]
		if i := b.find(ni.ID); i >= 0 {
			n := b.nodes[i]
			if n.Addr != ni.Addr {
				// Same ID from a new address: believe it only when the old
				// address has stopped answering.
				if !n.bad() && n.good(now) {
					return updated, nil
				}
				n.Addr = ni.Addr
			}
			if replied {
				n.lastReply, n.failures = now, 0
				b.changed = now
			} else {
				n.lastQuery = now
			}
			return updated, nil
		}
		if t.restrictIPs && t.subnetTaken(b, ni.Addr.Addr()) {
			return rejectedSubnet, nil
		}
		nn := &node{NodeInfo: ni}
		if replied {
			nn.lastReply = now
		} else {
			nn.lastQuery = now
		}
		if len(b.nodes) < K {
			b.nodes = append(b.nodes, nn)
			b.changed = now
			t.count++
			t.removeReplacement(b, ni.ID)
			return inserted, nil
		}
		// Full: split if this is the last bucket (it holds our own ID).
		if idx == len(t.buckets)-1 && len(t.buckets) < 160 {
			t.split()
			continue
		}
		// Replace a bad node.
		for i, n := range b.nodes {
			if n.bad() {
				b.nodes[i] = nn
				b.changed = now
				t.removeReplacement(b, ni.ID)
				return replacedBad, nil
			}
		}
		if !replied {
			return cached, nil // unverified nodes do not go to the cache
		}
		t.addReplacement(b, nn)
		// Ping the least recently seen questionable node (BEP 5).
		var stalest *node
		for _, n := range b.nodes {
			if !n.good(now) && (stalest == nil || n.lastSeen().Before(stalest.lastSeen())) {
				stalest = n
			}
		}
		return cached, stalest
	}
}

func (t *table) addReplacement(b *kbucket, nn *node) {
	t.removeReplacement(b, nn.ID)
	if len(b.replacements) >= replacementSize {
		b.replacements = slices.Delete(b.replacements, 0, 1)
	}
	b.replacements = append(b.replacements, nn)
}

func (t *table) removeReplacement(b *kbucket, id ID) {
	b.replacements = slices.DeleteFunc(b.replacements, func(n *node) bool { return n.ID == id })
}

// split divides the last bucket in two.
func (t *table) split() {
	last := t.buckets[len(t.buckets)-1]
	depth := len(t.buckets) - 1
	nb := &kbucket{changed: last.changed}
	keep := last.nodes[:0:0]
	for _, n := range last.nodes {
		if t.self.CommonPrefixLen(n.ID) > depth {
			nb.nodes = append(nb.nodes, n)
		} else {
			keep = append(keep, n)
		}
	}
	last.nodes = keep
	var keepR []*node
	for _, n := range last.replacements {
		if t.self.CommonPrefixLen(n.ID) > depth {
			nb.replacements = append(nb.replacements, n)
		} else {
			keepR = append(keepR, n)
		}
	}
	last.replacements = keepR
	t.buckets = append(t.buckets, nb)
}

// failed records that the node with id did not answer a query. A bad node
// is replaced from the replacement cache if it has one.
func (t *table) failed(id ID, addr netip.AddrPort) {
	b := t.buckets[t.bucketIndex(id)]
	i := b.find(id)
	if i < 0 || b.nodes[i].Addr != addr {
		return
	}
	n := b.nodes[i]
	n.failures++
	if !n.bad() {
		return
	}
	if len(b.replacements) > 0 {
		r := b.replacements[len(b.replacements)-1]
		b.replacements = b.replacements[:len(b.replacements)-1]
		b.nodes[i] = r
		return
	}
	if n.lastReply.IsZero() {
		// Never verified and now failing: drop it outright.
		b.nodes = slices.Delete(b.nodes, i, i+1)
		t.count--
	}
}

// forgetAddr removes the entries at addr under another ID than id: the
// node there has just answered us as id (after a restart, a BEP 42 ID
// change, or because it lies), and an entry under the old ID would send
// others to a node that is not what we say. Only a response counts, never
// a query, whose source address may be forged.
func (t *table) forgetAddr(addr netip.AddrPort, id ID) {
	for _, b := range t.buckets {
		stale := func(n *node) bool { return n.Addr == addr && n.ID != id }
		before := len(b.nodes)
		b.nodes = slices.DeleteFunc(b.nodes, stale)
		t.count -= before - len(b.nodes)
		b.replacements = slices.DeleteFunc(b.replacements, stale)
	}
}

// remove deletes the node with id.
func (t *table) remove(id ID) {
	b := t.buckets[t.bucketIndex(id)]
	if i := b.find(id); i >= 0 {
		b.nodes = slices.Delete(b.nodes, i, i+1)
		t.count--
	}
}

// closest returns up to n verified nodes closest to target, nearest
// first. It visits buckets in distance order instead of
// sorting the whole table. With c the prefix target shares with our ID,
// bucket c holds the nearest nodes. Of the deeper buckets i (c < i), whose
// nodes all share our bits up to i, bucket i comes before every deeper one
// if target's bit i differs from ours (its nodes match target there), and
// after all of them otherwise. Buckets c-1 down to 0 come last, in order.
func (t *table) closest(target ID, n int) []NodeInfo {
	out := make([]NodeInfo, 0, n+K)
	last := len(t.buckets) - 1
	c := t.bucketIndex(target)
	add := func(i int) {
		from := len(out)
		for _, nd := range t.buckets[i].nodes {
			if nd.verified() {
				out = append(out, nd.NodeInfo)
			}
		}
		seg := out[from:]
		slices.SortFunc(seg, func(a, b NodeInfo) int { return distCmp(target, a.ID, b.ID) })
	}
	add(c)
	if c < last {
		var deferred []int
		for i := c + 1; i < last && len(out) < n; i++ {
			if bitAt(target, i) != bitAt(t.self, i) {
				add(i)
			} else {
				deferred = append(deferred, i)
			}
		}
		if len(out) < n {
			add(last)
		}
		for j := len(deferred) - 1; j >= 0 && len(out) < n; j-- {
			add(deferred[j])
		}
	}
	for i := c - 1; i >= 0 && len(out) < n; i-- {
		add(i)
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// bitAt returns bit i (0 = most significant) of id.
func bitAt(id ID, i int) byte { return id[i/8] >> (7 - uint(i%8)) & 1 }

// all returns every verified node in the table.
func (t *table) all() []NodeInfo {
	out := make([]NodeInfo, 0, t.count)
	for _, b := range t.buckets {
		for _, n := range b.nodes {
			if n.verified() {
				out = append(out, n.NodeInfo)
			}
		}
	}
	return out
}

// staleBuckets returns the indices of buckets unchanged for longer than d.
func (t *table) staleBuckets(now time.Time, d time.Duration) []int {
	var out []int
	for i, b := range t.buckets {
		if now.Sub(b.changed) >= d {
			out = append(out, i)
		}
	}
	return out
}

// questionable returns nodes that are neither good nor bad, to be pinged.
func (t *table) questionable(now time.Time, max int) []NodeInfo {
	var out []NodeInfo
	for _, b := range t.buckets {
		for _, n := range b.nodes {
			if !n.good(now) && !n.bad() {
				out = append(out, n.NodeInfo)
				if len(out) == max {
					return out
				}
			}
		}
	}
	return out
}
