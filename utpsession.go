package bittern

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/utp"
)

// DefaultUTPConnectTimeout is the default of Config.UTPConnectTimeout:
// libtorrent's utp_connect_timeout.
const DefaultUTPConnectTimeout = 3 * time.Second

// utpBindTries bounds the attempts to find an ephemeral port free on both
// TCP and UDP when the session listens on port 0.
const utpBindTries = 8

// startUTP opens the session's uTP socket (Config.UTP): on
// Config.UTPPacketConn, or on the UDP port of the TCP listener. When the
// session listens on an ephemeral port that is taken on UDP, it listens
// again on another, a few times. It runs before the accept loops start.
func (s *Session) startUTP() error {
	c := &s.cfg
	pc := c.UTPPacketConn
	for try := 0; pc == nil; try++ {
		var err error
		pc, err = net.ListenPacket("udp", s.utpAddr())
		if err == nil {
			break
		}
		if try+1 >= utpBindTries || !s.ephemeralListen() {
			return fmt.Errorf("bittern: utp listen: %w", err)
		}
		// Another TCP port, hoping its UDP twin is free.
		s.ln.Close()
		ln, lerr := net.Listen("tcp", c.ListenAddr)
		if lerr != nil {
			s.ln = nil
			return fmt.Errorf("bittern: listen: %w", lerr)
		}
		s.ln = ln
	}
	s.utp = utp.NewSocket(pc, c.UTPConfig)
	return nil
}

// utpAddr is the UDP address of the session's uTP socket: the TCP
// listener's address, or an ephemeral port.
func (s *Session) utpAddr() string {
	if s.ln != nil {
		if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
			return a.String()
		}
	}
	if s.cfg.NoListen {
		return ":0"
	}
	return s.cfg.ListenAddr
}

// ephemeralListen reports whether the session made its own TCP listener
// on port 0, so that another port does as well.
func (s *Session) ephemeralListen() bool {
	if s.cfg.Listener != nil || s.ln == nil {
		return false
	}
	_, port, err := net.SplitHostPort(s.cfg.ListenAddr)
	return err == nil && (port == "0" || port == "")
}

// sharesUTPSocket reports whether the DHT node for Config.DHTListenAddr
// runs on the uTP socket: its port is 0 or the uTP socket's port.
func (s *Session) sharesUTPSocket() bool {
	if s.utp == nil {
		return false
	}
	_, port, err := net.SplitHostPort(s.cfg.DHTListenAddr)
	if err != nil {
		return false
	}
	if port == "0" || port == "" {
		return true
	}
	a, ok := s.utp.Addr().(*net.UDPAddr)
	return ok && port == strconv.Itoa(a.Port)
}

// startSharedDHT starts the session's DHT node on the uTP socket's view of
// the packets that are not uTP.
func (s *Session) startSharedDHT() (*dht.Server, error) {
	srv, err := dht.NewServer(s.utp.PacketConn(), s.cfg.DHTConfig)
	if err != nil {
		return nil, fmt.Errorf("bittern: %w", err)
	}
	return srv, nil
}

// UTPAddr returns the UDP address of the session's uTP socket, or nil
// without Config.UTP.
func (s *Session) UTPAddr() net.Addr {
	if s.utp == nil {
		return nil
	}
	return s.utp.Addr()
}

// utpAcceptLoop hands the connections peers open over uTP to the same
// handshake path as TCP ones (handleIncoming), within the same pending
// handshake bound. With Config.NoListen they are closed at once. It ends
// when the socket closes.
func (s *Session) utpAcceptLoop() {
	defer s.utpWG.Done()
	for {
		conn, err := s.utp.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.cfg.Logger.Debug("utp accept", "err", err)
			}
			return
		}
		if s.cfg.NoListen {
			conn.Close()
			continue
		}
		select {
		case s.handshakes <- struct{}{}:
		default:
			conn.Close() // too many handshakes in progress
			continue
		}
		// Close sets closed under mu before waiting for wg, so this Add
		// never races with that Wait.
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			<-s.handshakes
			conn.Close()
			continue
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handleIncoming(conn)
	}
}

// closeUTP closes the uTP socket (resetting what connections are left)
// and waits for its accept loop. It runs after the torrents have shut
// down, so that their connections could send their FINs.
func (s *Session) closeUTP() {
	if s.utp == nil {
		return
	}
	s.utp.Close()
	s.utpWG.Wait()
}

// isUTP reports whether a peer connection runs over uTP: its remote
// address is a UDP one (an MSE conn forwards its transport's address).
func isUTP(conn net.Conn) bool {
	a := conn.RemoteAddr()
	return a != nil && a.Network() == "udp"
}
