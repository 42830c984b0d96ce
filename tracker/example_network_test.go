package tracker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/tracker"
)

// Announce a download to a public tracker (the URL comes from a torrent's
// announce or announce-list), then tell it we stopped. Compiled, not run:
// it needs the internet.
func ExampleNew() {
	mi, err := metainfo.LoadFile("example.torrent")
	if err != nil {
		log.Fatal(err)
	}
	t, err := tracker.New(mi.Announce, nil) // http(s):// or udp://
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req := tracker.AnnounceRequest{
		InfoHash: mi.InfoHash(),
		PeerID:   peerwire.NewPeerID(peerwire.PeerIDPrefix),
		Port:     6881, // where we accept peers
		Left:     mi.Info().TotalLength(),
		Event:    tracker.EventStarted,
	}
	resp, err := t.Announce(ctx, req)
	var refused *tracker.FailureError
	switch {
	case errors.As(err, &refused):
		log.Fatalf("the tracker refused: %s", refused.Reason)
	case err != nil:
		log.Fatal(err) // unreachable, timed out (ErrTimeout) or garbled (ErrMalformed)
	}
	fmt.Printf("%d seeders, %d leechers; come back in %v\n", resp.Seeders, resp.Leechers, resp.Interval)
	for _, p := range resp.Peers {
		fmt.Println("peer", p) // dial it with peerwire
	}

	req.Event = tracker.EventStopped
	t.Announce(ctx, req)
}

// Run a tracker for a private swarm: HTTP announces at
// http://HOST:8000/announce and UDP ones at udp://HOST:6969, from one
// swarm state. Compiled, not run: it serves until killed.
func ExampleNewServer() {
	ours, err := metainfo.LoadFile("example.torrent")
	if err != nil {
		log.Fatal(err)
	}
	srv := tracker.NewServer(&tracker.ServerConfig{
		Interval: 5 * time.Minute,
		// A whitelist: only our torrent. A nil Allow is an open tracker.
		Allow: func(ih metainfo.Hash) bool { return ih == ours.InfoHash() },
	})
	pc, err := net.ListenPacket("udp", ":6969")
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Fatal(srv.ServeUDP(context.Background(), pc)) }()
	hs := &http.Server{Addr: ":8000", Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(hs.ListenAndServe())
}
