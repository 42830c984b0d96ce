// Package storage keeps a torrent's bytes: it maps the torrent's single
// contiguous byte space onto files (or memory), persists which pieces are
// verified, and rechecks existing data on all cores.
//
// The happy path: open a torrent in a download directory, write blocks as
// they arrive, verify pieces, and save the completion record now and then.
//
//	st := &storage.Dir{Root: "/downloads"}
//	tor, err := st.Open(ctx, mi.Info(), mi.InfoHash())
//	if err != nil {
//		return err
//	}
//	defer tor.Close()
//	v, err := storage.NewVerifier(mi.Info(), mi.PieceLayers)
//	// on start: trust the record, recheck what changed
//	res, err := tor.(storage.CompletionStore).LoadCompletion(ctx)
//	ok, err := v.Recheck(ctx, tor, &storage.RecheckOptions{Only: res.Recheck})
//	// per block: tor.WriteAt(block, int64(piece)*info.PieceLength+begin)
//	// per piece: good, err := v.CheckPiece(tor, piece), then now and then:
//	err = tor.(storage.CompletionStore).SaveCompletion(ctx, verified)
//
// # Seams
//
// Storage opens a Torrent, an io.ReaderAt + io.WriterAt + io.Closer over
// the byte space [0, TotalLength): the files of metainfo.Info in order, BEP
// 47 pad files included. Optional capabilities are separate interfaces
// found by type assertion: Flusher, Preallocator, Mover, FileSelector and
// CompletionStore. Dir implements all of them, Memory the first and the
// last. storagetest.Run checks any implementation against this contract.
//
// # Layouts
//
// v1 single- and multi-file torrents, v2 torrents (BEP 52, whose files
// start on piece boundaries: metainfo synthesizes the pad entries) and
// hybrid torrents share one mapping. Pad files (BEP 47 attribute 'p') are
// never written and read as zeros. Symlinks (attribute 'l') are created as
// relative links to their target inside the torrent.
//
// # Safety
//
// Dir reaches every file through an os.Root, so neither a crafted name, a
// symlink attribute, nor a symlink already on disk can make it read or
// write outside Root; on top of that, Open rejects any name component that
// is empty, ".", "..", longer than 255 bytes or contains '/', '\\' or NUL
// (ErrUnsafePath, with a *PathError naming the file), and file lists whose
// offsets do not add up (ErrBadLayout). On Windows, characters and names
// the file system cannot store are mapped to '_' variants first, and names
// that collide after mapping are refused.
//
// # Dir details
//
// I/O is positional (pread/pwrite) through a pool of at most
// Dir.MaxOpenFiles open files (DefaultMaxOpenFiles = 32) shared by all
// the torrents of a Dir, least recently used first out; handles in use
// are never closed under a reader. Files
// are sparse and created on first write unless Dir.Preallocate is set;
// zero-length files, which no write creates, are created by Open.
// Files deselected with FileSelector are not created: the bytes of their
// boundary pieces go to a part file ".<info-hash>.parts" beside the data,
// as in libtorrent, and move into the file when it is selected again (a
// deselected file that already exists keeps its data in place). Mover
// moves the data (and the part and resume files) to another directory
// while the torrent is in use; a copy is used across file systems.
//
// Write-behind (opt-in, Dir.WriteBehind): a large download otherwise
// leaves gigabytes of dirty pages for the kernel to write back late, and
// taking that much fresh page-cache memory can cost the writer far more
// CPU per byte than reusing a little (measured on a 2-core VM: a 4 GiB
// download cost several times the leecher CPU per GiB of a 1 GiB one).
// With it on Linux, Dir starts the writeback of every 8 MiB chunk of a
// file as soon as the chunk is fully written (sync_file_range), and once
// 8 more chunks of that file are complete it waits for the chunk's
// writeback and drops it from the page cache (posix_fadvise DONTNEED):
// about 72 MiB per file being written stays cached. Pieces are hashed as
// they complete, normally well before their chunk is dropped; what is
// read back later (seeding right after the download) comes from the
// disk rather than memory. The gain depends on the machine: 22–45% less
// leecher CPU for 4 GiB while fresh pages were expensive, none when they
// were not, 1 GiB within noise; hence opt-in. On other systems it does
// nothing.
//
// # Resume
//
// CompletionStore persists the verified pieces with the size and
// modification time of every file, atomically (temporary file, fsync,
// rename, directory fsync) and with a SHA-256 trailer; LoadCompletion
// trusts the pieces of unchanged files and returns those of changed files
// for a recheck; a torn or foreign record is refused whole (ErrBadResume).
// Data is synced before the record that vouches for it is written, so a
// kill -9 or a power cut at any moment loses at most the pieces saved
// since, and never marks a bad piece good (see resume.go for the argument).
//
// # Verification
//
// Verifier checks a piece (Check on bytes in hand, CheckPiece read from
// storage) against SHA-1 (v1), the BEP 52 SHA-256 merkle tree (v2; piece
// layers are checked against each file's pieces root), or both (hybrid). Recheck hashes a whole torrent on all cores, reading each
// piece in cache-sized chunks.
//
// # Limits
//
// Path components are limited to 255 bytes. The open-file pool holds
// Dir.MaxOpenFiles handles plus those pinned by in-flight I/O. The part
// file's table has one entry per piece. A completion record's size is
// fixed by the torrent, so a record of any other size is rejected unread.
// Write-behind keeps a byte count for every partly written 8 MiB chunk
// of a file (at most one per chunk: 128 Ki counts for a 1 TiB file).
//
// This package implements the storage side of BEP 3, BEP 47 and BEP 52.
package storage
