package tracker_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/tracker"
)

// Two peers announce to an in-process tracker and find each other.
func Example() {
	srv := tracker.NewServer(nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	t, err := tracker.New(ts.URL+"/announce", nil)
	if err != nil {
		panic(err)
	}
	defer t.Close()
	ih, _ := metainfo.ParseHash("0123456789abcdef0123456789abcdef01234567")
	ctx := context.Background()
	seed := tracker.AnnounceRequest{InfoHash: ih, PeerID: [20]byte{1}, Port: 6881, Event: tracker.EventStarted}
	if _, err := t.Announce(ctx, seed); err != nil {
		panic(err)
	}
	leech := tracker.AnnounceRequest{InfoHash: ih, PeerID: [20]byte{2}, Port: 6882, Left: 1000, Event: tracker.EventStarted}
	resp, err := t.Announce(ctx, leech)
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Peers, resp.Seeders, resp.Leechers)

	stats, _ := t.Scrape(ctx, ih)
	fmt.Printf("%+v\n", stats[ih])
	// Output:
	// [127.0.0.1:6881] 1 1
	// {Complete:1 Incomplete:1 Downloaded:0 Downloaders:1 HasDownloaders:true}
}

func ExampleParseAnnounceResponse() {
	body := "d8:intervali1800e5:peers12:\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x1a\xe2e"
	resp, err := tracker.ParseAnnounceResponse([]byte(body))
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Interval, resp.Peers)

	_, err = tracker.ParseAnnounceResponse([]byte("d14:failure reason12:unregisterede"))
	fmt.Println(err)
	// Output:
	// 30m0s [10.0.0.1:6881 10.0.0.2:6882]
	// tracker: failure: unregistered
}

func ExampleScrapeURL() {
	u, _ := tracker.ScrapeURL("http://tracker.example/x/announce.php?passkey=1")
	fmt.Println(u)
	// Output: http://tracker.example/x/scrape.php?passkey=1
}

// A UDP tracker on loopback, announced to with the UDP client.
func ExampleServer_ServeUDP() {
	srv := tracker.NewServer(&tracker.ServerConfig{Interval: 10 * time.Minute})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeUDP(ctx, pc) }()
	defer func() { cancel(); <-done }()

	t, err := tracker.NewUDP("udp://"+pc.LocalAddr().String(), nil)
	if err != nil {
		panic(err)
	}
	defer t.Close()
	ih := metainfo.HashBytes([]byte("example"))
	resp, err := t.Announce(ctx, tracker.AnnounceRequest{InfoHash: ih, PeerID: [20]byte{1}, Port: 6881, Event: tracker.EventStarted})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Interval, resp.Seeders, resp.Leechers, len(resp.Peers))
	// Output: 10m0s 1 0 0
}

// Multi tries the tiers of an announce-list in order; here the first tier's
// tracker is down and the second answers.
func ExampleMulti() {
	srv := httptest.NewServer(tracker.NewServer(nil))
	defer srv.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	m := tracker.NewMulti([][]string{{down.URL + "/announce"}, {srv.URL + "/announce"}}, nil)
	defer m.Close()
	ih := metainfo.HashBytes([]byte("example"))
	_, err := m.Announce(context.Background(), tracker.AnnounceRequest{InfoHash: ih, PeerID: [20]byte{1}, Port: 6881, Left: 100})
	fmt.Println(err)
	for _, st := range m.Status() {
		fmt.Println(st.Tier, st.Started, st.Fails)
	}
	// Output:
	// <nil>
	// 0 false 1
	// 1 true 0
}
