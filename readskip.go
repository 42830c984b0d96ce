package bittern

import "time"

// Readers of skipped files. A Reader's window gives its pieces deadlines,
// and the picker requests a piece with a deadline whatever its priority
// (piecepicker.SetDeadline), so reading a skipped file fetches just the
// pieces read, not the rest of the file. Those pieces do not count toward
// completion: Complete, Wait and the picker's Done still mean "every piece
// of the selected files is verified", so completion does not move as
// readers come, go and move. What follows from "we still want data" rather
// than from completion — interest, upload_only (BEP 21), hanging up on
// seeds, dialling seeds — looks at wantsData instead. Storages keep the
// bytes: storage.Dir writes those of a file it did not create (a skipped
// one) into its part file, from which they are read back.

// wantsData reports whether the torrent wants any piece: one of its
// selected files is incomplete, or a reader waits for a piece. Owner only.
func (t *Torrent) wantsData() bool {
	return !t.picker.Done() || t.picker.NumDeadlines() > 0
}

// demandChanged runs on the owner after the readers' deadlines changed,
// wanted tells whether data was wanted before. Peers that have a window
// piece become interesting (and the others not, once nothing else is
// wanted from them), the upload_only of our handshakes follows, and when
// a reader starts wanting data from a finished torrent, the seeds it hung
// up on are dialled again without waiting out their retry time.
func (t *Torrent) demandChanged(wanted bool) {
	for c := range t.conns {
		t.updateInterest(c)
	}
	t.syncUploadOnly()
	if wanted || !t.wantsData() {
		return
	}
	for _, pa := range t.addrs {
		if pa.seed && pa.fails == 0 {
			pa.nextTry = time.Time{}
		}
	}
	t.connectPeers()
}
