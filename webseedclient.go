package bittern

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Timeouts and bounds of the session's web seed HTTP client.
const (
	webSeedDialTimeout   = 15 * time.Second
	webSeedHeaderTimeout = 30 * time.Second
	webSeedIdleTimeout   = 90 * time.Second
	webSeedMaxRedirects  = 5
)

// webSeedClient is the session's HTTP client for web seeds: one for all
// torrents, so that connections to a server are kept alive and reused.
type webSeedClient struct {
	once sync.Once
	c    *http.Client
	own  *http.Transport // closed by close; nil for Config.WebSeedClient
}

// webClient returns the HTTP client web seed requests use:
// Config.WebSeedClient, or one the session made on first use.
func (s *Session) webClient() *http.Client {
	w := &s.web
	w.once.Do(func() {
		if s.cfg.WebSeedClient != nil {
			w.c = s.cfg.WebSeedClient
			return
		}
		w.own = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: webSeedDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   MaxWebSeedRequests,
			IdleConnTimeout:       webSeedIdleTimeout,
			TLSHandshakeTimeout:   webSeedDialTimeout,
			ResponseHeaderTimeout: webSeedHeaderTimeout,
		}
		w.c = &http.Client{
			Transport: w.own,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= webSeedMaxRedirects {
					return errWebSeedRedirects
				}
				return nil
			},
		}
	})
	return w.c
}

// closeWebClient closes the idle connections of the client the session
// made (Close, once every torrent has stopped).
func (s *Session) closeWebClient() {
	s.web.once.Do(func() {}) // none made after this
	if s.web.own != nil {
		s.web.own.CloseIdleConnections()
	}
}
