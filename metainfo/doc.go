// Package metainfo reads, validates and creates BitTorrent metainfo
// (.torrent files) and magnet links. Import it to inspect or make a
// torrent, or to load one for a bittern.Session (AddTorrent takes a
// *MetaInfo; AddMagnet takes the link as a string).
//
// It implements BEP 3 (v1 metainfo), BEP 52 (v2 metainfo: file tree, piece
// layers, merkle roots, hybrid v1+v2 torrents), BEP 47 (pad files and file
// attributes, symlinks), BEP 12 (announce-list), BEP 19 (url-list web
// seeds), BEP 17 (httpseeds), BEP 27 (private torrents), BEP 5 ("nodes"),
// BEP 38 (similar and collections), BEP 9 and BEP 53 (magnet links, with
// v2 "btmh" hashes).
//
// Loading a torrent:
//
//	mi, err := metainfo.LoadFile("ubuntu.torrent")
//	if err != nil {
//		return err // names the field: "metainfo: info.piece length: ..."
//	}
//	info := mi.Info()
//	fmt.Println(info.Name, mi.InfoHash(), info.TotalLength())
//	for _, f := range info.Files {
//		if !f.Pad {
//			fmt.Println(strings.Join(f.Path, "/"), f.Length)
//		}
//	}
//
// Magnet links:
//
//	m, err := metainfo.ParseMagnet(link) // btih (hex or base32), btmh, dn, tr, ws, x.pe, so, xl
//	fmt.Println(m.SwarmHash(), m.Name, m.Trackers)
//	fmt.Println(m) // formats it back
//
// Creating a torrent (v1, v2 or hybrid; hashed on all cores):
//
//	b := &metainfo.Builder{Version: metainfo.Hybrid, Trackers: [][]string{{url}}}
//	mi, err := b.Build(ctx, "path/to/dir")
//	err = mi.Write(f)
//
// A MetaInfo and its Info are not modified after Load returns them and may
// be read from any number of goroutines. A Builder is used by one goroutine
// at a time (Build hashes on its own bounded set of goroutines, which have
// all ended when it returns); ParseMagnet and the Magnet methods are safe
// for concurrent use.
//
// # The byte space
//
// Info.Files lists every file of the torrent in order, pad files included,
// with its Offset in the torrent's contiguous byte space; piece i covers
// bytes [i*PieceLength, min((i+1)*PieceLength, TotalLength)). For v2-only
// torrents, pad entries are synthesized so that every non-empty file starts
// on a piece boundary, exactly as in a hybrid torrent, so callers can treat
// v1, v2 and hybrid torrents alike. Symlinks (attribute 'l') take no space.
//
// # v2 and hybrid torrents
//
// A v2 file's PiecesRoot is the root of the merkle tree over its 16 KiB
// blocks (BlockHashes, MerkleRoot). For a file longer than one piece,
// MetaInfo.PieceLayers holds its piece layer, one hash per piece; Load
// checks that every layer present hashes up to its file's pieces root
// (PiecesRoot) and belongs to a file of the torrent, and rejects the
// torrent otherwise (libtorrent defers that check until the torrent is
// added). Absent layers are accepted, as libtorrent does: they can be
// fetched from peers like a magnet link's metadata. PieceHashesV2 returns a
// file's piece hashes.
//
// BEP 52 reads a file tree holding one file at its root as a single-file
// torrent named by that file ("name" being only advisory), so for such a v2
// torrent Info.Name is the file's name; a tree with several root entries
// (BEP 52's "rootless" torrent) is stored under Name, as libtorrent does. A
// hybrid torrent is laid out by its v1 file list, which must describe the
// same files as the v2 tree, in the same order, with every non-empty file
// starting on a piece boundary (pad files between them); otherwise Load
// fails with ErrInconsistent.
//
// # Info-hashes
//
// MetaInfo.InfoBytes holds the info dictionary's bytes exactly as they
// appear in the file; InfoHash is SHA-1 over them and InfoHashV2 SHA-256.
// Nothing is re-encoded before hashing, so unusual but valid encodings keep
// their hash. v2 info dictionaries must be canonical (sorted keys), as BEP
// 52 requires; v1 ones may have unsorted keys, as many real torrents do. A
// file with two top-level "info" keys is rejected, since clients would
// disagree on which one the info-hash covers.
//
// # Path safety
//
// No torrent can make a caller write outside the download directory. Every
// path element (and the torrent name) is sanitized; structurally invalid
// input is rejected. The rule, following libtorrent:
//
//   - Elements that are empty, "." or ".." are dropped. A path left with no
//     elements becomes "_".
//   - Path separators ('/' and '\') inside an element are removed, so an
//     element can never name a parent or an absolute path ("/etc" becomes
//     "etc", "a/../b" becomes "a..b"); an element made only of separators
//     and dots becomes "_".
//   - Invalid UTF-8 bytes, control characters and Unicode bidirectional
//     overrides are replaced by '_'.
//   - A leading drive letter ("C:") has its colon replaced by '_'.
//   - Elements longer than 255 bytes are truncated, keeping the extension.
//   - A NUL byte in a name or path element rejects the torrent (ErrName,
//     ErrPath), as does a path element that is not a string.
//   - A name that sanitizes to nothing ("", ".", "..") is replaced by the
//     hex info-hash.
//   - Symlink targets are sanitized the same way and are relative to the
//     torrent root, so they cannot point outside it either.
//   - Files whose sanitized paths collide, ignoring case (so that none
//     overwrites another on a case-insensitive file system), or that collide
//     with a directory, are renamed "name.1.ext", "name.2.ext", …; more than
//     MaxDuplicateNames taken candidates in a torrent reject it
//     (ErrTooManyDuplicates).
//
// Characters that only Windows forbids (<>:"|?*), reserved Windows device
// names and trailing spaces or dots are kept: storage backends for such
// file systems must map them. Pad files are never renamed. The Builder refuses
// to create torrents whose names the rule would change, skips symbolic
// links and special files, and does not record empty directories.
//
// # Limits
//
// Load rejects files larger than MaxTorrentSize, torrents with more than
// MaxPieces pieces, paths nested deeper than MaxFileTreeDepth, piece lengths
// above MaxPieceLength and v2 files above MaxV2FileLength. Bencode nesting is
// limited by the bencode package's default depth; magnet links by
// MaxMagnetLength. Bytes after the top-level dictionary are ignored, as
// libtorrent does. Malformed optional top-level fields (announce-list,
// url-list, nodes, …) are skipped rather than fatal; anything wrong in the
// info dictionary or the piece layers rejects the torrent.
package metainfo
