// Command torrent-info prints what a .torrent file or a magnet link holds.
//
//	torrent-info [-json] FILE.torrent|MAGNET
//
// By default it prints a human summary. With -json it prints one JSON
// object. For a .torrent file: name, info_hash (v1 hex, or "" if none),
// info_hash_v2 (64 hex digits, or ""), piece_length, num_pieces,
// total_length, private, files (a list of {path, length, pad} in torrent
// order, path joined with "/" and relative to the torrent's directory, or
// the name for a single-file torrent), trackers (a list of tiers, each a
// list of URLs) and web_seeds. For a magnet link: info_hash, info_hash_v2,
// name, trackers (a list of URLs), peers ("host:port") and select_only (the
// BEP 53 file indexes, ranges expanded).
//
// A file or link that cannot be read exits with status 1 and a one-line
// error naming what is wrong.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bittern/bittern/metainfo"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type fileJSON struct {
	Path   string `json:"path"`
	Length int64  `json:"length"`
	Pad    bool   `json:"pad"`
}

type torrentJSON struct {
	Name        string     `json:"name"`
	InfoHash    string     `json:"info_hash"`
	InfoHashV2  string     `json:"info_hash_v2"`
	PieceLength int64      `json:"piece_length"`
	NumPieces   int        `json:"num_pieces"`
	TotalLength int64      `json:"total_length"`
	Private     bool       `json:"private"`
	Files       []fileJSON `json:"files"`
	Trackers    [][]string `json:"trackers"`
	WebSeeds    []string   `json:"web_seeds"`
}

type magnetJSON struct {
	InfoHash   string   `json:"info_hash"`
	InfoHashV2 string   `json:"info_hash_v2"`
	Name       string   `json:"name"`
	Trackers   []string `json:"trackers"`
	Peers      []string `json:"peers"`
	SelectOnly []int    `json:"select_only"`
}

// maxSelected bounds the expansion of BEP 53 ranges in the output.
const maxSelected = 1 << 20

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("torrent-info", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: torrent-info [-json] FILE.torrent|MAGNET")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	arg := fs.Arg(0)
	var err error
	if strings.HasPrefix(strings.ToLower(arg), "magnet:") {
		err = showMagnet(stdout, arg, *asJSON)
	} else {
		err = showTorrent(stdout, arg, *asJSON)
	}
	if err != nil {
		fmt.Fprintln(stderr, "torrent-info: "+strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	return 0
}

func hashOrEmpty[H interface {
	IsZero() bool
	String() string
}](h H) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}

func showTorrent(w io.Writer, path string, asJSON bool) error {
	mi, err := metainfo.LoadFile(path)
	if err != nil {
		return err
	}
	info := mi.Info()
	t := torrentJSON{
		Name:        info.Name,
		InfoHash:    hashOrEmpty(mi.InfoHash()),
		InfoHashV2:  hashOrEmpty(mi.InfoHashV2()),
		PieceLength: info.PieceLength,
		NumPieces:   info.NumPieces(),
		TotalLength: info.TotalLength(),
		Private:     info.Private,
		Files:       make([]fileJSON, 0, len(info.Files)),
		Trackers:    mi.Trackers(),
		WebSeeds:    mi.URLList,
	}
	for _, f := range info.Files {
		t.Files = append(t.Files, fileJSON{Path: strings.Join(f.Path, "/"), Length: f.Length, Pad: f.Pad})
	}
	if t.Trackers == nil {
		t.Trackers = [][]string{}
	}
	if t.WebSeeds == nil {
		t.WebSeeds = []string{}
	}
	if asJSON {
		return writeJSON(w, t)
	}
	kind := "v1"
	switch {
	case info.IsHybrid():
		kind = "hybrid (v1 + v2)"
	case info.IsV2():
		kind = "v2"
	}
	fmt.Fprintf(w, "name:          %s\n", t.Name)
	fmt.Fprintf(w, "kind:          %s\n", kind)
	if t.InfoHash != "" {
		fmt.Fprintf(w, "info hash:     %s\n", t.InfoHash)
	}
	if t.InfoHashV2 != "" {
		fmt.Fprintf(w, "info hash v2:  %s\n", t.InfoHashV2)
	}
	fmt.Fprintf(w, "size:          %s (%d bytes)\n", humanBytes(t.TotalLength), t.TotalLength)
	fmt.Fprintf(w, "pieces:        %d x %s\n", t.NumPieces, humanBytes(t.PieceLength))
	fmt.Fprintf(w, "private:       %v\n", t.Private)
	if mi.CreatedBy != "" {
		fmt.Fprintf(w, "created by:    %s\n", mi.CreatedBy)
	}
	if mi.Comment != "" {
		fmt.Fprintf(w, "comment:       %s\n", mi.Comment)
	}
	for i, tier := range t.Trackers {
		fmt.Fprintf(w, "tracker tier %d: %s\n", i, strings.Join(tier, " "))
	}
	for _, s := range t.WebSeeds {
		fmt.Fprintf(w, "web seed:      %s\n", s)
	}
	fmt.Fprintf(w, "files:\n")
	for _, f := range info.Files {
		if f.Pad {
			continue
		}
		line := fmt.Sprintf("  %12d  %s", f.Length, strings.Join(f.Path, "/"))
		if f.IsSymlink() {
			line += " -> " + strings.Join(f.Symlink, "/")
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

func showMagnet(w io.Writer, link string, asJSON bool) error {
	m, err := metainfo.ParseMagnet(link)
	if err != nil {
		return err
	}
	j := magnetJSON{
		InfoHash:   hashOrEmpty(m.InfoHash),
		InfoHashV2: hashOrEmpty(m.InfoHashV2),
		Name:       m.Name,
		Trackers:   append([]string{}, m.Trackers...),
		Peers:      append([]string{}, m.Peers...),
		SelectOnly: []int{},
	}
	for _, r := range m.SelectOnly {
		if len(j.SelectOnly)+r.Last-r.First+1 > maxSelected {
			return errors.New("metainfo: magnet selects more than 1048576 files")
		}
		for i := r.First; i <= r.Last; i++ {
			j.SelectOnly = append(j.SelectOnly, i)
		}
	}
	if asJSON {
		return writeJSON(w, j)
	}
	fmt.Fprintf(w, "magnet link\n")
	if j.Name != "" {
		fmt.Fprintf(w, "name:          %s\n", j.Name)
	}
	if j.InfoHash != "" {
		fmt.Fprintf(w, "info hash:     %s\n", j.InfoHash)
	}
	if j.InfoHashV2 != "" {
		fmt.Fprintf(w, "info hash v2:  %s\n", j.InfoHashV2)
	}
	for _, t := range j.Trackers {
		fmt.Fprintf(w, "tracker:       %s\n", t)
	}
	for _, p := range j.Peers {
		fmt.Fprintf(w, "peer:          %s\n", p)
	}
	if len(j.SelectOnly) > 0 {
		fmt.Fprintf(w, "select only:   %v\n", j.SelectOnly)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
