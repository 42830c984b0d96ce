package bittern

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/storage"
)

func TestEncryptionPolicies(t *testing.T) {
	cases := []struct {
		seed, leech   Encryption
		ok, encrypted bool
	}{
		{EncryptionAccept, EncryptionAccept, true, false},
		{EncryptionAccept, EncryptionRequired, true, true},
		{EncryptionAccept, EncryptionPreferred, true, true},
		{EncryptionRequired, EncryptionRequired, true, true},
		{EncryptionRequired, EncryptionPreferred, true, true},
		{EncryptionOff, EncryptionPreferred, true, false}, // plaintext fallback
		{EncryptionOff, EncryptionOff, true, false},
		{EncryptionOff, EncryptionRequired, false, false},
		{EncryptionRequired, EncryptionAccept, false, false},
		{EncryptionRequired, EncryptionOff, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.seed.String()+"-"+tc.leech.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newPipeNet()
				n.rate = 1 << 20
				data := randomData(1<<20, 60)
				mi := makeTorrent(t, "enc.bin", data, 32<<10)
				// The seeder serves another torrent too: incoming MSE
				// connections are routed by their stream key.
				other := makeTorrent(t, "other.bin", randomData(1000, 61), 16<<10)
				seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, &Config{Encryption: tc.seed})
				defer seeder.Close()
				if _, err := seeder.AddTorrent(context.Background(), other, nil); err != nil {
					t.Fatal(err)
				}
				st := &storage.Memory{}
				leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: st, Encryption: tc.leech})
				defer leecher.Close()
				tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				sawPeer, sawEncrypted := false, false
				for ctx.Err() == nil && !tor.Stats().Complete {
					s := tor.Stats()
					if s.Peers > 0 {
						sawPeer = true
						sawEncrypted = sawEncrypted || s.EncryptedPeers > 0
					}
					time.Sleep(10 * time.Millisecond)
				}
				err = tor.Wait(ctx)
				if !tc.ok {
					if !errors.Is(err, context.DeadlineExceeded) || sawPeer {
						t.Fatalf("Wait = %v, saw a peer %v: want no connection", err, sawPeer)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if sawEncrypted != tc.encrypted {
					t.Errorf("encrypted = %v, want %v", sawEncrypted, tc.encrypted)
				}
				if !bytes.Equal(contents(t, st, mi), data) {
					t.Fatal("data differs")
				}
			})
		})
	}
}

// A magnet's metadata is fetched under the policy too.
func TestEncryptionMagnet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(100<<10, 62)
		mi := makeTorrent(t, "encmag.bin", data, 16<<10)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, &Config{Encryption: EncryptionRequired})
		defer seeder.Close()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Encryption: EncryptionRequired})
		defer leecher.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		tor, err := leecher.AddMagnet(ctx, "magnet:?xt=urn:btih:"+mi.InfoHash().String()+"&x.pe=10.0.0.1:6881", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestEncryptionString(t *testing.T) {
	for e, want := range map[Encryption]string{EncryptionAccept: "accept", EncryptionPreferred: "preferred", EncryptionRequired: "required", EncryptionOff: "off", 9: "Encryption(9)"} {
		if e.String() != want {
			t.Errorf("%d: %q, want %q", int(e), e.String(), want)
		}
	}
}
