//go:build interop

package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern/metainfo"
)

var metainfoData = map[string]int{
	"a.bin":        100000,
	"empty":        0,
	"run.sh":       1234,
	"sub/b":        70000,
	"sub/c/d":      1,
	"sub/big.bin":  1<<20 + 3,
	"with space.x": 16384,
}

// TestMetainfoBuilderInLibtorrent: torrents made by bittern's Builder (v1,
// v2, hybrid; single- and multi-file) load in libtorrent with the same
// info-hashes and files, and libtorrent verifies the data against them.
func TestMetainfoBuilderInLibtorrent(t *testing.T) {
	dir := t.TempDir()
	multi := filepath.Join(dir, "data")
	writeData(t, multi, metainfoData)
	single := filepath.Join(dir, "single.bin")
	writeData(t, dir, map[string]int{"single.bin": 300001})
	onedir := filepath.Join(dir, "onedir")
	writeData(t, onedir, map[string]int{"only.bin": 50000})

	var pairs []string
	var built []*metainfo.MetaInfo
	var builders []*metainfo.Builder
	for _, v := range []metainfo.Version{metainfo.V1, metainfo.V2, metainfo.Hybrid} {
		for _, src := range []string{multi, single, onedir} {
			for _, pl := range []int64{32 << 10, 0} {
				b := &metainfo.Builder{Version: v, PieceLength: pl, NoCreationDate: true,
					Trackers: [][]string{{"http://127.0.0.1:1/announce"}}, Comment: "bittern interop"}
				if pl == 0 {
					// The other options, each seen by libtorrent.
					b.NoCreationDate = false
					b.CreationDate = time.Unix(1700000000, 0)
					b.Private = true
					b.Trackers = [][]string{{"http://127.0.0.1:1/announce", "udp://127.0.0.1:2"}, {"http://127.0.0.1:3/announce"}}
					b.WebSeeds = []string{"http://127.0.0.1:4/files/", "http://127.0.0.1:5/"}
				}
				builders = append(builders, b)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				mi, err := b.Build(ctx, src)
				cancel()
				if err != nil {
					t.Fatalf("%v %s: %v", v, src, err)
				}
				out := filepath.Join(dir, v.String()+"-"+filepath.Base(src)+"-"+itoa(int(pl))+".torrent")
				data, err := mi.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(out, data, 0o644); err != nil {
					t.Fatal(err)
				}
				save := dir
				if mi.Info().SingleFile && src == onedir {
					// BEP 52: a v2 tree holding one file is a single-file
					// torrent, stored without the directory.
					save = onedir
				}
				pairs = append(pairs, out+"="+save)
				built = append(built, mi)
			}
		}
	}
	res := libtorrentInfo(t, pairs...)
	for i, lt := range res {
		compareWithLibtorrent(t, built[i], lt)
		if !lt.Seeding || lt.Error != "" {
			t.Errorf("%s: libtorrent did not verify the data (seeding=%v error=%q)", lt.Torrent, lt.Seeding, lt.Error)
		}
		b := builders[i]
		var date int64
		if !b.NoCreationDate {
			date = b.CreationDate.Unix()
		}
		if lt.Private != b.Private || lt.Comment != b.Comment || lt.CreationDate != date {
			t.Errorf("%s: libtorrent sees private=%v comment=%q date=%d, built with %v %q %d",
				lt.Torrent, lt.Private, lt.Comment, lt.CreationDate, b.Private, b.Comment, date)
		}
		// BEP 12: clients shuffle the URLs of a tier (libtorrent does on
		// load), so tiers are compared as sets, in tier order.
		if got := ltTiers(lt); fmt.Sprint(sortedTiers(got)) != fmt.Sprint(sortedTiers(b.Trackers)) {
			t.Errorf("%s: libtorrent trackers %q, built with %q", lt.Torrent, got, b.Trackers)
		}
		if strings.Join(lt.WebSeeds, " ") != strings.Join(built[i].URLList, " ") {
			t.Errorf("%s: libtorrent web seeds %q, ours %q", lt.Torrent, lt.WebSeeds, built[i].URLList)
		}
	}
}

// ltCreateScript makes v1, v2 and hybrid torrents of each path given with
// libtorrent's create_torrent, writing them to OUTDIR/<mode>-<base>.torrent,
// and prints the list of files written.
const ltCreateScript = `
import sys, os, json, libtorrent as lt
outdir, piece = sys.argv[1], int(sys.argv[2])
written = []
for src in sys.argv[3:]:
    for mode, flags in (('v1', lt.create_torrent.v1_only), ('v2', lt.create_torrent.v2_only), ('hybrid', 0)):
        fs = lt.file_storage()
        lt.add_files(fs, src)
        ct = lt.create_torrent(fs, piece, flags)
        ct.add_tracker('http://127.0.0.1:1/announce')
        ct.set_comment('libtorrent interop')
        lt.set_piece_hashes(ct, os.path.dirname(src))
        out = os.path.join(outdir, mode + '-' + os.path.basename(src) + '.torrent')
        with open(out, 'wb') as f:
            f.write(lt.bencode(ct.generate()))
        written.append(out)
print(json.dumps(written))
`

// TestMetainfoLibtorrentTorrentsLoad: torrents made by libtorrent (v1, v2,
// hybrid; single- and multi-file) load in bittern with libtorrent's
// info-hashes and files, and their hashes match the data.
func TestMetainfoLibtorrentTorrentsLoad(t *testing.T) {
	dir := t.TempDir()
	multi := filepath.Join(dir, "data")
	writeData(t, multi, metainfoData)
	single := filepath.Join(dir, "single.bin")
	writeData(t, dir, map[string]int{"single.bin": 300001})
	onedir := filepath.Join(dir, "onedir")
	writeData(t, onedir, map[string]int{"only.bin": 50000})
	outdir := filepath.Join(dir, "torrents")
	if err := os.Mkdir(outdir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var written []string
	for _, pl := range []string{"16384", "65536"} {
		var w []string
		sub := filepath.Join(outdir, pl)
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(runPython(t, ctx, ltCreateScript, sub, pl, multi, single, onedir), &w); err != nil {
			t.Fatal(err)
		}
		written = append(written, w...)
	}
	if len(written) != 18 {
		t.Fatalf("libtorrent wrote %d torrents, want 18", len(written))
	}
	res := libtorrentInfo(t, written...)
	for i, path := range written {
		mi, err := metainfo.LoadFile(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		compareWithLibtorrent(t, mi, res[i])
		_, src, _ := strings.Cut(strings.TrimSuffix(filepath.Base(path), ".torrent"), "-")
		root := filepath.Join(dir, src)
		if mi.Info().SingleFile && src == "onedir" {
			// BEP 52: a v2 tree holding one file is a single-file torrent.
			root = filepath.Join(onedir, "only.bin")
		}
		verifyOnDisk(t, mi, root)
		if mi.Comment != "libtorrent interop" || mi.Announce != "http://127.0.0.1:1/announce" {
			t.Errorf("%s: comment %q announce %q", path, mi.Comment, mi.Announce)
		}
	}
}

// TestMetainfoTransmissionCreate: torrents made by transmission-create load
// in bittern with the info-hashes and files libtorrent sees, and match the
// data.
func TestMetainfoTransmissionCreate(t *testing.T) {
	dir := t.TempDir()
	multi := filepath.Join(dir, "data")
	writeData(t, multi, metainfoData)
	single := filepath.Join(dir, "single.bin")
	writeData(t, dir, map[string]int{"single.bin": 300001})
	var paths []string
	for _, tc := range []struct {
		src  string
		args []string
	}{
		{multi, []string{"-s", "32"}},
		{single, []string{"-p", "-c", "from transmission"}},
	} {
		out := filepath.Join(dir, filepath.Base(tc.src)+".torrent")
		args := append([]string{"-o", out, "-t", "http://127.0.0.1:1/announce"}, tc.args...)
		p := startProc(t, "transmission-create", append(args, tc.src)...)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := p.Wait(ctx)
		cancel()
		if err != nil {
			t.Fatalf("transmission-create: %v\n%s", err, p.Log())
		}
		paths = append(paths, out)
	}
	res := libtorrentInfo(t, paths...)
	for i, path := range paths {
		mi, err := metainfo.LoadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		compareWithLibtorrent(t, mi, res[i])
		root := multi
		if mi.Info().SingleFile {
			root = single
			if !mi.Info().Private || mi.Comment != "from transmission" {
				t.Errorf("%s: private %v comment %q", path, mi.Info().Private, mi.Comment)
			}
		} else if mi.Info().PieceLength != 32<<10 {
			t.Errorf("%s: piece length %d, want 32 KiB", path, mi.Info().PieceLength)
		}
		if mi.Announce != "http://127.0.0.1:1/announce" {
			t.Errorf("%s: announce %q", path, mi.Announce)
		}
		verifyOnDisk(t, mi, root)
	}
}

// TestMetainfoV1InTransmissionAndAria2: v1 torrents made by the Builder are
// read by transmission-show and aria2c with the same info-hash, piece count
// and files, and their magnet links agree with ours. (Transmission 3.00
// cannot parse hybrid or v2 torrents, and aria2 1.36 computes a wrong v1
// hash for hybrids, so only v1 is checked here.)
func TestMetainfoV1InTransmissionAndAria2(t *testing.T) {
	dir := t.TempDir()
	multi := filepath.Join(dir, "data")
	writeData(t, multi, metainfoData)
	single := filepath.Join(dir, "single.bin")
	writeData(t, dir, map[string]int{"single.bin": 300001})
	for _, src := range []string{multi, single} {
		b := &metainfo.Builder{Version: metainfo.V1, PieceLength: 32 << 10, NoCreationDate: true,
			Trackers: [][]string{{"http://127.0.0.1:1/announce"}}}
		mi, err := b.Build(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.Base(src)+".torrent")
		data, _ := mi.Marshal()
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		info := mi.Info()

		show := runTool(t, "transmission-show", "-u", path)
		wantLine(t, show, "Hash: "+mi.InfoHash().String())
		wantLine(t, show, "Piece Count: "+itoa(info.NumPieces()))
		for _, f := range realFiles(mi) {
			if !strings.Contains(show, "  "+f.Path+" (") {
				t.Errorf("transmission-show lacks file %s:\n%s", f.Path, show)
			}
		}
		magnet := strings.TrimSpace(runTool(t, "transmission-show", "-m", path))
		if magnet != mi.Magnet().String() {
			t.Errorf("magnet links differ:\ntransmission %s\nbittern      %s", magnet, mi.Magnet())
		}

		aria := runTool(t, "aria2c", "-S", path)
		wantLine(t, aria, "Info Hash: "+mi.InfoHash().String())
		wantLine(t, aria, "The Number of Pieces: "+itoa(info.NumPieces()))
		for _, line := range strings.Split(aria, "\n") {
			if rest, ok := strings.CutPrefix(line, "Magnet URI: "); ok {
				m, err := metainfo.ParseMagnet(rest)
				if err != nil || m.InfoHash != mi.InfoHash() || m.Name != info.Name {
					t.Errorf("aria2 magnet %q: %+v, %v", rest, m, err)
				}
			}
		}
	}
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	p := startProc(t, name, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, p.Log())
	}
	return p.Log()
}

func wantLine(t *testing.T, out, line string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == line {
			return
		}
	}
	t.Errorf("output lacks %q:\n%s", line, out)
}

// ltMagnetScript parses each magnet link given with libtorrent and, for
// each path after "--", makes libtorrent's magnet link of that torrent.
const ltMagnetScript = `
import sys, json, libtorrent as lt
args = sys.argv[1:]
sep = args.index('--')
parsed, made = [], []
for uri in args[:sep]:
    p = lt.parse_magnet_uri(uri)
    ih = p.info_hashes
    parsed.append({'v1': str(ih.v1) if ih.has_v1() else '', 'v2': str(ih.v2) if ih.has_v2() else '',
                   'name': p.name, 'trackers': list(p.trackers), 'peers': [('[%s]:%d' if ':' in pe[0] else '%s:%d') % pe for pe in p.peers],
                   'web_seeds': list(p.url_seeds), 'priorities': list(p.file_priorities)})
for path in args[sep + 1:]:
    made.append(lt.make_magnet_uri(lt.torrent_info(path)))
print(json.dumps({'parsed': parsed, 'made': made}))
`

// TestMetainfoMagnetLibtorrent: magnet links formatted by bittern parse in
// libtorrent to the same hashes, name, trackers, peers, web seeds and BEP 53
// selection, and libtorrent's links for v1, v2 and hybrid torrents parse in
// bittern to the torrents' hashes and names.
func TestMetainfoMagnetLibtorrent(t *testing.T) {
	h1, _ := metainfo.ParseHash("c0fda1edafdbdbb96443424e0b3899af7159d10e")
	h2, _ := metainfo.ParseHashV2("597b180c1a170a585dfc5e85d834d69013ceda174b8f357d5bb1a0ca509faf0a")
	ours := []*metainfo.Magnet{
		{InfoHash: h1, Name: "plain"},
		{InfoHashV2: h2, Name: "v2 only & spaces/ü", Trackers: []string{"udp://127.0.0.1:6969/announce"}},
		{InfoHash: h1, InfoHashV2: h2, Name: "hybrid", Trackers: []string{"http://a.example/announce?x=1&y=2", "udp://b.example:80"},
			WebSeeds: []string{"http://ws.example/files/"}, Peers: []string{"127.0.0.1:6881", "[::1]:51413"},
			SelectOnly: []metainfo.Range{{First: 0, Last: 0}, {First: 2, Last: 3}}},
	}
	corpus := []string{"v2_hybrid.torrent", "v2_only.torrent", "base.torrent", "sample.torrent"}
	args := []string{}
	for _, m := range ours {
		args = append(args, m.String())
	}
	args = append(args, "--")
	for _, c := range corpus {
		args = append(args, filepath.Join("..", "metainfo", "testdata", "libtorrent", c))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var res struct {
		Parsed []struct {
			V1, V2, Name              string
			Trackers, Peers, WebSeeds []string
			Priorities                []int
		}
		Made []string
	}
	out := runPython(t, ctx, ltMagnetScript, args...)
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(out), `"web_seeds"`, `"WebSeeds"`)), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for i, m := range ours {
		got := res.Parsed[i]
		v1, v2 := "", ""
		if !m.InfoHash.IsZero() {
			v1 = m.InfoHash.String()
		}
		if !m.InfoHashV2.IsZero() {
			v2 = m.InfoHashV2.String()
		}
		if got.V1 != v1 || got.V2 != v2 || got.Name != m.Name ||
			strings.Join(got.Trackers, " ") != strings.Join(m.Trackers, " ") ||
			strings.Join(got.Peers, " ") != strings.Join(m.Peers, " ") ||
			strings.Join(got.WebSeeds, " ") != strings.Join(m.WebSeeds, " ") {
			t.Errorf("libtorrent read %s as %+v", m, got)
		}
		for f, prio := range got.Priorities {
			if (prio != 0) != m.Selected(f) {
				t.Errorf("%s: libtorrent priority %d for file %d, bittern selected=%v", m, prio, f, m.Selected(f))
			}
		}
		if len(m.SelectOnly) > 0 && len(got.Priorities) == 0 {
			t.Errorf("%s: libtorrent saw no file selection", m)
		}
	}
	for i, c := range corpus {
		mi, err := metainfo.LoadFile(filepath.Join("..", "metainfo", "testdata", "libtorrent", c))
		if err != nil {
			t.Fatal(err)
		}
		m, err := metainfo.ParseMagnet(res.Made[i])
		if err != nil {
			t.Errorf("%s: libtorrent's link %q: %v", c, res.Made[i], err)
			continue
		}
		if m.InfoHash != mi.InfoHash() || m.InfoHashV2 != mi.InfoHashV2() || m.Name != mi.Info().Name {
			t.Errorf("%s: libtorrent's link %q parsed as %+v", c, res.Made[i], m)
		}
		if ourLink := mi.Magnet().String(); ourLink != res.Made[i] {
			t.Logf("%s: links differ in form:\nlibtorrent %s\nbittern    %s", c, res.Made[i], ourLink)
		}
	}
}
