//go:build !race

package dht

// raceEnabled reports whether the race detector is on: it slows the
// simulation about tenfold, so it runs fewer lookups.
const raceEnabled = false
