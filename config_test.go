package bittern

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// Every field of a nil Config gets a working default, except those whose
// zero value is meaningful (nil Storage and Listener, false NoListen, zero
// PeerID, false NoTrackers, and Tracker, whose zero value tracker.Multi
// fills in, Encryption, whose zero value is a policy, and the optional
// peer sources, and the rate limits, where zero means unlimited).
func TestConfigDefaults(t *testing.T) {
	d := (*Config)(nil).withDefaults()
	v := reflect.ValueOf(d)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		switch name {
		case "Storage", "Listener", "NoListen", "PeerID", "NoTrackers", "Tracker", "Encryption", "DHT", "DHTListenAddr", "DHTConfig", "PeerSources", "DownloadRateLimit", "UploadRateLimit", "DisableWebSeeds", "WebSeedClient", "UTP", "PreferTCP", "UTPPacketConn", "UTPConfig":
			continue
		}
		if v.Field(i).IsZero() {
			t.Errorf("Config.%s has no default", name)
		}
	}
	custom := (&Config{MaxPeers: 3, IdleTimeout: time.Second}).withDefaults()
	if custom.MaxPeers != 3 || custom.IdleTimeout != time.Second {
		t.Errorf("set fields overridden: %+v", custom)
	}
}

func TestNewSessionNoListen(t *testing.T) {
	s, err := NewSession(&Config{NoListen: true, Storage: &storage.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != nil {
		t.Errorf("Addr %v, want nil", s.Addr())
	}
	if id := s.PeerID(); string(id[:8]) != "-BN0100-" {
		t.Errorf("peer ID %q", id)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestAddTorrentV2OnlyUnsupported(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(path, randomData(100000, 5), 0o644); err != nil {
		t.Fatal(err)
	}
	mi, err := (&metainfo.Builder{Version: metainfo.V2}).Build(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	mi.PieceLayers = nil // v2 works, but not without the hashes to verify with
	s, err := NewSession(&Config{NoListen: true, Storage: &storage.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AddTorrent(context.Background(), mi, nil); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("AddTorrent(v2-only without piece layers) = %v, want ErrUnsupported", err)
	}
}
