// Package conformance holds bittern's interoperability suite: tests, built
// with the tag "interop", that run the library against real, independent
// BitTorrent implementations (libtorrent-rasterbar, Transmission, aria2,
// opentracker) on loopback.
//
//	go test -tags interop ./conformance/...
//
// .ci/run installs the peers (Debian packages) and runs the suite; see
// README.md in this directory for what is covered.
package conformance
