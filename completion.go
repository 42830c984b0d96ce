package bittern

import "sync"

// doneState is the public completion signal: a channel closed while every
// selected piece is verified, replaced by an open one when the selection
// grows past what is verified.
//
// A selection change is applied by the owner later than the call that
// made it returns; until then (pending > 0) the owner's view of
// completion is stale and does not close the channel, and a change that
// is known to be incomplete reopens it at once, so Wait right after
// SetFilePriorities waits for the new selection.
type doneState struct {
	mu      sync.Mutex
	ch      chan struct{}
	closed  bool
	pending int // selection changes not yet applied by the owner
}

// chanLocked returns the current channel, making it on first use.
func (d *doneState) chanLocked() chan struct{} {
	if d.ch == nil {
		d.ch = make(chan struct{})
	}
	return d.ch
}

// wait returns the channel closed while the selection is complete.
func (d *doneState) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.chanLocked()
}

// markDone closes the channel, unless a selection change is pending.
func (d *doneState) markDone() {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch := d.chanLocked()
	if !d.closed && d.pending == 0 {
		close(ch)
		d.closed = true
	}
}

// reopenLocked replaces a closed channel with an open one.
func (d *doneState) reopenLocked() {
	if d.closed {
		d.ch = make(chan struct{})
		d.closed = false
	}
}

// beginChange records a selection change on its way to the owner;
// incomplete reports that it selects pieces not verified yet.
func (d *doneState) beginChange(incomplete bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending++
	if incomplete {
		d.reopenLocked()
	}
}

// endChange runs on the owner when it has applied a change; complete is
// its view of completion under the new priorities.
func (d *doneState) endChange(complete bool) {
	d.mu.Lock()
	d.pending--
	if !complete {
		d.reopenLocked()
	}
	d.mu.Unlock()
}
