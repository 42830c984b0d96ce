package pickertest

import (
	"slices"

	"github.com/bittern/bittern/piecepicker"
)

// model is an independent, naive record of what the Picker was told and what it handed
// out. Every property is checked against it, never against the Picker's own state.
type model struct {
	n      int
	blocks []int // blocks per piece
	prio   []piecepicker.Priority
	have   []bool
	due    []bool // pieces with a deadline: fetched even at priority Skip
	peers  []*mpeer
	out    map[piecepicker.Block][]int // outstanding block -> requesting peer indices
	recv   map[piecepicker.Block]int   // received block -> sending peer index
	pad    map[piecepicker.Block]bool  // blocks inside pad files
	maxDup int
}

type mpeer struct {
	p         *piecepicker.Peer
	has       []bool
	connected bool
	choked    bool
	fast      []int
	suggested []int
}

func newModel(n int, blocks []int, maxDup int) *model {
	m := &model{
		n: n, blocks: blocks, maxDup: maxDup,
		prio: make([]piecepicker.Priority, n), have: make([]bool, n), due: make([]bool, n),
		out: map[piecepicker.Block][]int{}, recv: map[piecepicker.Block]int{},
		pad: map[piecepicker.Block]bool{},
	}
	for i := range m.prio {
		m.prio[i] = piecepicker.Normal
	}
	return m
}

func (m *model) wanted(i int) bool { return m.prio[i] > piecepicker.Skip && !m.have[i] }

// fetch reports whether piece i may be requested: wanted, or given a deadline (which
// overrides priority Skip) and not verified.
func (m *model) fetch(i int) bool { return m.wanted(i) || (m.due[i] && !m.have[i]) }

// verified records that piece i was verified: it drops its deadline for good.
func (m *model) verified(i int) {
	m.have[i] = true
	m.due[i] = false
}

// allowed reports whether piece i may be requested from peer k.
func (m *model) allowed(k, i int) bool {
	pe := m.peers[k]
	return pe.connected && pe.has[i] && m.fetch(i) && (!pe.choked || slices.Contains(pe.fast, i))
}

// untouched reports whether wanted piece i has no outstanding and no received block.
func (m *model) untouched(i int) bool {
	if !m.wanted(i) {
		return false
	}
	for j := range m.blocks[i] {
		b := piecepicker.Block{Piece: i, Index: j}
		if len(m.out[b]) > 0 {
			return false
		}
		if _, ok := m.recv[b]; ok {
			return false
		}
	}
	return true
}

// numUntouched counts the untouched wanted pieces some connected peer has.
func (m *model) numUntouched() int {
	c := 0
	for i := range m.n {
		if m.untouched(i) && m.availability(i) > 0 {
			c++
		}
	}
	return c
}

func (m *model) remaining() int {
	c := 0
	for i := range m.n {
		if m.wanted(i) {
			c++
		}
	}
	return c
}

func (m *model) availability(i int) int {
	c := 0
	for _, pe := range m.peers {
		if pe.connected && pe.has[i] {
			c++
		}
	}
	return c
}

func (m *model) numRequests(k int) int {
	c := 0
	for _, ks := range m.out {
		if slices.Contains(ks, k) {
			c++
		}
	}
	return c
}

// dropOut removes peer k from block b's requesters and reports whether it was one.
func (m *model) dropOut(k int, b piecepicker.Block) bool {
	ks := m.out[b]
	i := slices.Index(ks, k)
	if i < 0 {
		return false
	}
	ks = slices.Delete(ks, i, i+1)
	if len(ks) == 0 {
		delete(m.out, b)
	} else {
		m.out[b] = ks
	}
	return true
}

func (m *model) dropAll(k int) {
	for b := range m.out {
		m.dropOut(k, b)
	}
}

// clearPiece forgets every outstanding and received block of piece i.
func (m *model) clearPiece(i int) {
	for j := range m.blocks[i] {
		b := piecepicker.Block{Piece: i, Index: j}
		delete(m.out, b)
		delete(m.recv, b)
	}
}

func (m *model) complete(i int) bool {
	for j := range m.blocks[i] {
		if !m.done(piecepicker.Block{Piece: i, Index: j}) {
			return false
		}
	}
	return true
}

// done reports whether block b needs no download: received, or inside a pad file.
func (m *model) done(b piecepicker.Block) bool {
	_, ok := m.recv[b]
	return ok || m.pad[b]
}

// allPad reports whether piece i consists of pad blocks only.
func (m *model) allPad(i int) bool {
	for j := range m.blocks[i] {
		if !m.pad[piecepicker.Block{Piece: i, Index: j}] {
			return false
		}
	}
	return true
}

func (m *model) peerIndex(p *piecepicker.Peer) int {
	for k, pe := range m.peers {
		if pe.p == p {
			return k
		}
	}
	return -1
}

// hasFree reports whether piece i has a block neither outstanding nor received.
func (m *model) hasFree(i int) bool {
	for j := range m.blocks[i] {
		b := piecepicker.Block{Piece: i, Index: j}
		if !m.done(b) && len(m.out[b]) == 0 {
			return true
		}
	}
	return false
}
