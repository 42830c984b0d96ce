package utp

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// errGSORefused is what a kernel without UDP GSO returns.
var errGSORefused error = syscall.EIO

// groOOB builds a UDP_GRO control message carrying seg, after an
// unrelated one.
func groOOB(seg int) []byte {
	hdr := syscall.SizeofCmsghdr
	put := func(b []byte, level, typ int, data []byte) []byte {
		m := make([]byte, syscall.CmsgSpace(len(data)))
		if hdr-8 == 8 {
			binary.NativeEndian.PutUint64(m, uint64(syscall.CmsgLen(len(data))))
		} else {
			binary.NativeEndian.PutUint32(m, uint32(syscall.CmsgLen(len(data))))
		}
		binary.NativeEndian.PutUint32(m[hdr-8:], uint32(level))
		binary.NativeEndian.PutUint32(m[hdr-4:], uint32(typ))
		copy(m[hdr:], data)
		return append(b, m...)
	}
	b := put(nil, syscall.SOL_IP, syscall.IP_TOS, []byte{1, 0, 0, 0})
	return put(b, solUDP, udpGRO, binary.NativeEndian.AppendUint32(nil, uint32(seg)))
}

func TestGROSegment(t *testing.T) {
	if got := groSegment(groOOB(1232)); got != 1232 {
		t.Fatalf("segment %d", got)
	}
	if got := groSegment(nil); got != 0 {
		t.Fatalf("no cmsg: %d", got)
	}
	// The GSO control message is not a GRO one.
	if got := groSegment(gsoOOB(nil, 1232)); got != 0 {
		t.Fatalf("gso cmsg: %d", got)
	}
	// Truncated and corrupt control data: no panic, no segment.
	full := groOOB(500)
	for i := range full {
		_ = groSegment(full[:i])
		bad := append([]byte(nil), full...)
		bad[i] ^= 0xff
		_ = groSegment(bad)
	}
}

func TestGSOOOB(t *testing.T) {
	b := gsoOOB(nil, 1232)
	hdr := syscall.SizeofCmsghdr
	if len(b) != syscall.CmsgSpace(2) ||
		binary.NativeEndian.Uint32(b[hdr-8:]) != solUDP ||
		binary.NativeEndian.Uint32(b[hdr-4:]) != udpSegment ||
		binary.NativeEndian.Uint16(b[hdr:]) != 1232 {
		t.Fatalf("cmsg % x", b)
	}
}

// TestGROFallbackSplit: datagrams that are not uTP, sent with GSO to a
// socket reading with GRO, reach its PacketConn one by one, whether or not
// the kernel coalesced them.
func TestGROFallbackSplit(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSocket(pc, nil)
	defer s.Close()
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	var want []string
	var b []byte
	for i := range 5 {
		m := fmt.Sprintf("d1:ti%de1:y1:q%se", i, strings.Repeat("x", 40)) // equal sizes
		want = append(want, m)
		b = append(b, m...)
	}
	b = append(b, "d1:y1:qe"...) // a shorter last one
	want = append(want, "d1:y1:qe")
	if err := writeGSO(uc, b, len(want[0]), s.Addr().(*net.UDPAddr)); err != nil {
		t.Skipf("no UDP GSO here: %v", err)
	}
	fb := s.PacketConn()
	fb.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 200)
	for _, w := range want {
		n, from, err := fb.ReadFrom(buf)
		if err != nil || string(buf[:n]) != w || from.String() != uc.LocalAddr().String() {
			t.Fatalf("%q from %v, %v; want %q", buf[:n], from, err, w)
		}
	}
	if st := s.Stats(); st.PacketsIn != uint64(len(want)) || st.Fallback != uint64(len(want)) {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("gro %v", s.gro)
}
