//go:build interop

package conformance

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern/metainfo"
)

// ltFile is one entry of a libtorrent file_storage.
type ltFile struct {
	Path   string `json:"path"` // as libtorrent reports it: name/... for multi-file torrents
	Size   int64  `json:"size"`
	Offset int64  `json:"offset"`
	Pad    bool   `json:"pad"`
}

// ltTorrent is what libtorrent reports about one .torrent file.
type ltTorrent struct {
	Torrent     string   `json:"torrent"`
	V1          string   `json:"v1"`
	V2          string   `json:"v2"`
	Name        string   `json:"name"`
	PieceLength int64    `json:"piece_length"`
	NumPieces   int      `json:"num_pieces"`
	Files       []ltFile `json:"files"`
	Seeding     bool     `json:"seeding"`
	Error       string   `json:"error"`

	Private      bool     `json:"private"`
	Comment      string   `json:"comment"`
	CreationDate int64    `json:"creation_date"`
	Trackers     [][2]any `json:"trackers"` // [tier, url]
	WebSeeds     []string `json:"web_seeds"`
}

// sortedTiers returns a copy of tiers with the URLs of each tier sorted.
func sortedTiers(tiers [][]string) [][]string {
	out := make([][]string, len(tiers))
	for i, tier := range tiers {
		out[i] = slices.Sorted(slices.Values(tier))
	}
	return out
}

// ltTiers returns libtorrent's trackers grouped by tier, in order.
func ltTiers(lt ltTorrent) [][]string {
	var tiers [][]string
	for _, tr := range lt.Trackers {
		tier, _ := tr[0].(float64)
		url, _ := tr[1].(string)
		for len(tiers) <= int(tier) {
			tiers = append(tiers, nil)
		}
		tiers[int(tier)] = append(tiers[int(tier)], url)
	}
	return tiers
}

// ltInfoScript loads each .torrent named on the command line (as
// path=savepath pairs) with libtorrent, prints its info-hashes and files,
// and, when a save path is given, adds it to a session over the data there
// and waits (bounded) for the check to finish, reporting whether libtorrent
// found every piece valid.
const ltInfoScript = `
import sys, json, time, libtorrent as lt
port = sys.argv[1]
def info(path):
    ti = lt.torrent_info(path)
    ih = ti.info_hashes()
    fs = ti.files()
    out = {'torrent': path, 'v1': str(ih.v1) if ih.has_v1() else '', 'v2': str(ih.v2) if ih.has_v2() else '',
           'name': ti.name(), 'piece_length': ti.piece_length(), 'num_pieces': ti.num_pieces(), 'files': [],
           'private': ti.priv(), 'comment': ti.comment(), 'creation_date': ti.creation_date(),
           'trackers': [[t.tier, t.url] for t in ti.trackers()], 'web_seeds': [w['url'] for w in ti.web_seeds()]}
    for i in range(fs.num_files()):
        out['files'].append({'path': fs.file_path(i), 'size': fs.file_size(i), 'offset': fs.file_offset(i),
                             'pad': bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)})
    return ti, out
ses = None
results, handles = [], []
for arg in sys.argv[2:]:
    path, _, save = arg.partition('=')
    ti, out = info(path)
    results.append(out)
    if save:
        if ses is None:
            ses = lt.session({'listen_interfaces': '127.0.0.1:' + port, 'enable_dht': False, 'enable_lsd': False,
                              'enable_upnp': False, 'enable_natpmp': False, 'dht_bootstrap_nodes': ''})
        atp = lt.add_torrent_params()
        atp.ti = ti
        atp.save_path = save
        handles.append((out, ses.add_torrent(atp)))
deadline = time.time() + 90
for out, h in handles:
    while True:
        st = h.status()
        if st.is_seeding or st.errc.value() != 0 or time.time() > deadline:
            break
        if st.state == lt.torrent_status.downloading:
            break  # checked, and some pieces failed
        time.sleep(0.05)
    out['seeding'] = st.is_seeding
    out['error'] = st.errc.message() if st.errc.value() != 0 else ''
print(json.dumps(results))
`

// libtorrentInfo runs ltInfoScript; pairs are "torrent=savepath" (or just
// "torrent" for no data check).
func libtorrentInfo(t *testing.T, pairs ...string) []ltTorrent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	port := freePort(t, "tcp")
	out := runPython(t, ctx, ltInfoScript, append([]string{itoa(port)}, pairs...)...)
	var res []ltTorrent
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("libtorrent output: %v\n%s", err, out)
	}
	if len(res) != len(pairs) {
		t.Fatalf("libtorrent reported %d torrents, want %d", len(res), len(pairs))
	}
	return res
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// writeData creates files (slash path -> size) under dir with random bytes;
// names ending in ".sh" are made executable.
func writeData(t *testing.T, dir string, files map[string]int) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 11))
	for p, n := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(full, b, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// realFiles lists the non-pad files of a bittern torrent as libtorrent
// names them (name/path for multi-file torrents), with their offsets.
func realFiles(mi *metainfo.MetaInfo) []ltFile {
	info := mi.Info()
	var out []ltFile
	for _, f := range info.Files {
		if f.Pad {
			continue
		}
		p := strings.Join(f.Path, "/")
		if !info.SingleFile {
			p = info.Name + "/" + p
		}
		out = append(out, ltFile{Path: p, Size: f.Length, Offset: f.Offset})
	}
	return out
}

// realLTFiles drops libtorrent's pad files.
func realLTFiles(files []ltFile) []ltFile {
	var out []ltFile
	for _, f := range files {
		if !f.Pad {
			f.Pad = false
			out = append(out, f)
		}
	}
	return out
}

// compareWithLibtorrent checks that bittern and libtorrent agree on a
// torrent: info-hashes, name, piece length and count, and every real file
// with its offset in the torrent's byte space (the offset of an empty file
// is not compared: clients may place it before or after a pad).
func compareWithLibtorrent(t *testing.T, mi *metainfo.MetaInfo, lt ltTorrent) {
	t.Helper()
	v1, v2 := "", ""
	if !mi.InfoHash().IsZero() {
		v1 = mi.InfoHash().String()
	}
	if !mi.InfoHashV2().IsZero() {
		v2 = mi.InfoHashV2().String()
	}
	info := mi.Info()
	if v1 != lt.V1 || v2 != lt.V2 {
		t.Errorf("%s: info-hashes bittern v1=%q v2=%q, libtorrent v1=%q v2=%q", lt.Torrent, v1, v2, lt.V1, lt.V2)
	}
	if info.Name != lt.Name || info.PieceLength != lt.PieceLength || info.NumPieces() != lt.NumPieces {
		t.Errorf("%s: bittern name %q piece length %d pieces %d; libtorrent %q %d %d", lt.Torrent,
			info.Name, info.PieceLength, info.NumPieces(), lt.Name, lt.PieceLength, lt.NumPieces)
	}
	ours, theirs := realFiles(mi), realLTFiles(lt.Files)
	if len(ours) != len(theirs) {
		t.Fatalf("%s: bittern files %+v\nlibtorrent files %+v", lt.Torrent, ours, theirs)
	}
	for i := range ours {
		a, b := ours[i], theirs[i]
		if a.Path != b.Path || a.Size != b.Size || (a.Size > 0 && a.Offset != b.Offset) {
			t.Errorf("%s: file %d: bittern %+v, libtorrent %+v", lt.Torrent, i, a, b)
		}
	}
}

// verifyOnDisk checks every v1 piece hash and every v2 pieces root and piece
// layer of mi against the data at root (the file itself for a single-file
// torrent, else the torrent's directory).
func verifyOnDisk(t *testing.T, mi *metainfo.MetaInfo, root string) {
	t.Helper()
	info := mi.Info()
	var space []byte
	for _, f := range info.Files {
		if f.Pad {
			space = append(space, make([]byte, f.Length)...)
			continue
		}
		p := root
		if !info.SingleFile {
			p = filepath.Join(append([]string{root}, f.Path...)...)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		space = append(space, data...)
		if !info.IsV2() || f.Length == 0 {
			continue
		}
		blocks := metainfo.BlockHashes(data)
		n := 1
		for n < len(blocks) {
			n <<= 1
		}
		if got := metainfo.MerkleRoot(blocks, n); got != f.PiecesRoot {
			t.Errorf("%s: pieces root %s, data gives %s", p, f.PiecesRoot, got)
		}
		if hashes, ok := mi.PieceHashesV2(&f); ok && len(hashes) > 1 {
			for i, h := range hashes {
				lo := int64(i) * info.PieceLength
				piece := data[lo:min(lo+info.PieceLength, f.Length)]
				if want := metainfo.MerkleRoot(metainfo.BlockHashes(piece), int(info.PieceLength/metainfo.BlockSize)); h != want {
					t.Errorf("%s: v2 piece %d does not match the data", p, i)
				}
			}
		}
	}
	if info.IsV1() {
		for i := 0; i < info.NumPieces(); i++ {
			lo := int64(i) * info.PieceLength
			hi := min(lo+info.PieceSize(i), int64(len(space)))
			want := sha1.Sum(space[lo:hi])
			if got, _ := info.PieceHash(i); got != want {
				t.Errorf("v1 piece %d does not match the data", i)
			}
		}
	}
}
