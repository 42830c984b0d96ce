package bittern

import (
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Event is something that happened in a Session, delivered to its
// subscribers (Session.Subscribe). Its dynamic type is one of
// MetadataReceived, PieceVerified, FileCompleted, TorrentCompleted,
// TrackerError, DHTError, StorageError, PeerBanned and WebSeedError;
// switch on it:
//
//	for ev := range sub.C {
//		switch ev := ev.(type) {
//		case bittern.FileCompleted:
//			log.Printf("%s: file %v done", ev.Torrent.InfoHash(), ev.Path)
//		case bittern.StorageError:
//			log.Printf("disk: %v", ev.Err)
//		}
//	}
//
// More event types may be added in later versions: ignore unknown ones.
type Event interface {
	// Base returns the fields every event has.
	Base() EventBase
}

// EventBase holds the fields every event has. Each event type embeds it.
type EventBase struct {
	// Torrent is the torrent the event concerns; nil for session-wide
	// events (a DHTError of the session's own node bootstrapping).
	Torrent *Torrent
	// Time is when the event happened.
	Time time.Time
}

// Base implements Event.
func (b EventBase) Base() EventBase { return b }

// MetadataReceived: the info dictionary of a torrent added from a magnet
// link arrived from peers and matched the info-hash.
type MetadataReceived struct {
	EventBase
}

// PieceVerified: a downloaded piece passed its hash check and is written.
type PieceVerified struct {
	EventBase
	// Piece is the index of the piece.
	Piece int
}

// FileCompleted: the last piece touching a file was verified during the
// download (files complete when added, empty files and BEP 47 pad files
// give none).
type FileCompleted struct {
	EventBase
	// File is the index in the torrent's Info().Files.
	File int
	// Path is the file's path as in the metainfo (Info().Files[File].Path).
	Path []string
	// Offset and Length place the file in the torrent's byte space.
	Offset, Length int64
}

// TorrentCompleted: every piece of the torrent's selected files (all of
// them unless file priorities skip some) is verified, after a download or
// a change of file priorities; again when a larger selection completes. A
// torrent added complete gives none.
type TorrentCompleted struct {
	EventBase
}

// TrackerError: an announce failed with every tracker of the torrent; it
// is retried with backoff.
type TrackerError struct {
	EventBase
	// Err joins the errors of the trackers tried (errors.Join).
	Err error
}

// DHTError: a lookup or announce on the session's DHT (Config.DHT) for
// the torrent failed, or (with a nil Torrent) the bootstrap of the node
// the session started for Config.DHTListenAddr failed. Both are retried.
type DHTError struct {
	EventBase
	// Err is the lookup's, announce's or bootstrap's error.
	Err error
}

// StorageError: reading or writing the torrent's storage failed.
type StorageError struct {
	EventBase
	// Op is "write" (a received block), "read" (a block to upload) or
	// "save completion" (the completion record).
	Op string
	// Piece is the piece concerned, or -1.
	Piece int
	// Err is the storage's error.
	Err error
}

// PeerBanned: a peer was banned from the torrent for sending data that
// failed hash checks; its IP address and peer ID are refused from now on.
type PeerBanned struct {
	EventBase
	// Addr is the peer's IP address; invalid if its address was not IP.
	Addr netip.Addr
	// PeerID is the peer ID it connected with.
	PeerID [20]byte
}

// DefaultEventBuffer is the buffer of a subscription made with a size of
// zero.
const DefaultEventBuffer = 256

// Subscription receives a Session's events on C. Delivery never blocks the
// session: each subscription has a buffer, and an event that finds it full
// is dropped (the newest is dropped, so what C delivers stays in order)
// and counted by Dropped. Read C promptly, or size the buffer for the
// bursts you expect (a download delivers a PieceVerified per piece).
type Subscription struct {
	// C delivers the events. It is closed by Close and when the session
	// closes.
	C <-chan Event

	hub     *eventHub
	ch      chan Event
	dropped atomic.Uint64
}

// Subscribe starts delivering the session's events to a new Subscription
// with a buffer of size events (DefaultEventBuffer if size <= 0). Events
// that happened before the call are not delivered. On a closed session C
// is closed at once.
func (s *Session) Subscribe(size int) *Subscription {
	if size <= 0 {
		size = DefaultEventBuffer
	}
	sub := &Subscription{hub: &s.hub, ch: make(chan Event, size)}
	sub.C = sub.ch
	s.hub.add(sub)
	return sub
}

// Dropped returns the number of events dropped because C was full.
func (sub *Subscription) Dropped() uint64 { return sub.dropped.Load() }

// Close stops the delivery and closes C (events still buffered in it can
// be read). It is safe to call more than once.
func (sub *Subscription) Close() { sub.hub.remove(sub) }

// eventHub fans events out to the subscriptions. publish never blocks.
type eventHub struct {
	n      atomic.Int32 // len(subs), read without the lock
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

func (h *eventHub) add(sub *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(sub.ch)
		return
	}
	if h.subs == nil {
		h.subs = make(map[*Subscription]struct{})
	}
	h.subs[sub] = struct{}{}
	h.n.Store(int32(len(h.subs)))
}

func (h *eventHub) remove(sub *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[sub]; ok {
		delete(h.subs, sub)
		h.n.Store(int32(len(h.subs)))
		close(sub.ch)
	}
}

// close closes every subscription; later ones are closed at once.
func (h *eventHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for sub := range h.subs {
		close(sub.ch)
	}
	clear(h.subs)
	h.n.Store(0)
}

// active reports whether anyone subscribes: callers skip building events
// nobody would receive.
func (h *eventHub) active() bool { return h.n.Load() > 0 }

// publish delivers ev to every subscription with room for it.
func (h *eventHub) publish(ev Event) {
	if !h.active() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		select {
		case sub.ch <- ev:
		default:
			sub.dropped.Add(1)
		}
	}
}

// eventBase returns an EventBase for the torrent, now.
func (t *Torrent) eventBase() EventBase { return EventBase{Torrent: t, Time: time.Now()} }

// emit publishes an event built by mk, if anyone subscribes.
func (t *Torrent) emit(mk func(EventBase) Event) {
	if t.s != nil && t.s.hub.active() {
		t.s.hub.publish(mk(t.eventBase()))
	}
}

// emitStorageError publishes a StorageError.
func (t *Torrent) emitStorageError(op string, piece int, err error) {
	t.emit(func(b EventBase) Event { return StorageError{EventBase: b, Op: op, Piece: piece, Err: err} })
}

// filesLeft tracks, for the FileCompleted events, how many pieces each
// file still misses. Owner goroutine only.
type filesLeft struct {
	left []int // per file of Info.Files; -1 for files that give no event
}

// onPieceVerified runs on the owner after piece is verified: it publishes
// PieceVerified and FileCompleted for the files the piece completes. The
// counts are set up the first time, from the picker (with piece still
// counted as missing), so a torrent that never verifies a piece pays
// nothing.
func (t *Torrent) onPieceVerified(piece int) {
	info := t.info
	files := info.Files
	if t.fl.left == nil {
		t.fl.left = make([]int, len(files))
		for i, f := range files {
			if f.Pad || f.Length == 0 {
				t.fl.left[i] = -1
				continue
			}
			first, last := int(f.Offset/info.PieceLength), int((f.Offset+f.Length-1)/info.PieceLength)
			for p := first; p <= last; p++ {
				if p == piece || !t.picker.HasPiece(p) {
					t.fl.left[i]++
				}
			}
			if t.fl.left[i] == 0 {
				t.fl.left[i] = -1 // complete already
			}
		}
	}
	t.emit(func(b EventBase) Event { return PieceVerified{EventBase: b, Piece: piece} })
	lo, hi := int64(piece)*info.PieceLength, int64(piece+1)*info.PieceLength
	// The first file ending after lo, by binary search on the offsets.
	i, j := 0, len(files)
	for i < j {
		m := int(uint(i+j) >> 1)
		if files[m].Offset+files[m].Length <= lo {
			i = m + 1
		} else {
			j = m
		}
	}
	for ; i < len(files) && files[i].Offset < hi; i++ {
		if t.fl.left[i] <= 0 {
			continue
		}
		t.fl.left[i]--
		if t.fl.left[i] == 0 {
			t.fl.left[i] = -1
			f := files[i]
			t.emit(func(b EventBase) Event {
				return FileCompleted{EventBase: b, File: i, Path: slices.Clone(f.Path), Offset: f.Offset, Length: f.Length}
			})
		}
	}
}

// isDHT reports whether src is Config.DHT (comparing only values of a
// comparable type, which cannot panic).
func (s *Session) isDHT(src PeerSource) bool {
	d := s.cfg.DHT
	if d == nil || src == nil {
		return false
	}
	tp := reflect.TypeOf(d)
	return reflect.TypeOf(src) == tp && tp.Comparable() && src == d
}
