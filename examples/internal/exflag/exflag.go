// Package exflag holds the command-line flag types and values that the
// example programs share.
package exflag

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/bittern/bittern"
)

// Peers collects repeated -peer HOST:PORT flags.
type Peers []netip.AddrPort

// String returns the peers, comma-separated.
func (l *Peers) String() string {
	s := make([]string, len(*l))
	for i, a := range *l {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// Set adds a peer; s must be a literal IP address and a port.
func (l *Peers) Set(s string) error {
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		return fmt.Errorf("want HOST:PORT with a literal IP address: %w", err)
	}
	*l = append(*l, a)
	return nil
}

// Strings collects a repeated flag's values.
type Strings []string

// String returns the values, comma-separated.
func (l *Strings) String() string { return strings.Join(*l, ",") }

// Set adds a value.
func (l *Strings) Set(s string) error { *l = append(*l, s); return nil }

// Encryptions maps the values of an -encryption flag to the Session's
// policies.
var Encryptions = map[string]bittern.Encryption{
	"required":  bittern.EncryptionRequired,
	"preferred": bittern.EncryptionPreferred,
	"off":       bittern.EncryptionOff,
	"accept":    bittern.EncryptionAccept,
}
