package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/token"
)

// serveHTTP starts the node's optional HTTP listener (Config.HTTPListen):
// Prometheus metrics, health and readiness. It is read-only: nothing served
// here changes the node.
func (n *Node) serveHTTP() error {
	if n.cfg.HTTPListen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", n.cfg.HTTPListen)
	if err != nil {
		return fmt.Errorf("wasmactor: http listener: %w", err)
	}
	var auth *token.Authority
	if n.cfg.HTTPRequireToken {
		cookie := n.cookie
		if len(cookie) == 0 {
			cookie = n.cfg.Cookie
		}
		if len(cookie) == 0 {
			_ = ln.Close()
			return fmt.Errorf("%w: HTTPRequireToken needs the cluster's cookie (Listen, or Cookie with Transport) to verify tokens", wasmactor.ErrBadArgument)
		}
		var err error
		if auth, err = token.NewAuthority(cookie); err != nil {
			_ = ln.Close()
			return err
		}
	}
	mux := http.NewServeMux()
	n.observerHandlers(mux, auth)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := n.checkOpen(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := n.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	n.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return n.life },
	}
	n.httpAddr = ln.Addr().String()
	n.httpDone = make(chan struct{})
	go func() {
		defer close(n.httpDone)
		if err := n.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http listener stopped", "err", err)
		}
	}()
	n.log.Info("http listening", "addr", n.httpAddr)
	return nil
}

// viewerOnly lets a request through h only if it carries a token of the
// cluster with at least the viewer role (Authorization: Bearer), when
// auth is not nil. 401 without a valid token, 403 for a token below viewer
// (none is today: every role includes viewer; the check keeps the rule in
// one place if a lesser role is added).
func viewerOnly(auth *token.Authority, h http.HandlerFunc) http.HandlerFunc {
	if auth == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 7235, 2.1): "bearer" is Bearer.
		scheme, text, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wasmactor"`)
			http.Error(w, "a token with the viewer role is required: Authorization: Bearer wat1...", http.StatusUnauthorized)
			return
		}
		tok, err := token.Parse(strings.TrimSpace(text))
		var g token.Grant
		if err == nil {
			g, err = auth.Verify(tok, time.Now())
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wasmactor", error="invalid_token"`)
			http.Error(w, "token refused: "+err.Error(), http.StatusUnauthorized)
			return
		}
		if !g.Allows(token.Viewer) {
			http.Error(w, "the token's role is "+g.Role.String()+"; the observer needs viewer", http.StatusForbidden)
			return
		}
		h(w, r)
	}
}

// closeHTTP stops the HTTP listener and waits for its goroutine.
func (n *Node) closeHTTP() {
	if n.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.http.Shutdown(ctx); err != nil {
		_ = n.http.Close()
	}
	<-n.httpDone
}

// HTTPAddr is the address of the node's HTTP listener (metrics, health), or
// "" when Config.HTTPListen is unset.
func (n *Node) HTTPAddr() string { return n.httpAddr }

// Ready reports whether the node can take work: it is open, its module
// store is readable, and, if it was given seeds, it is connected to at least
// one other node (a node without seeds runs alone by choice and is ready at
// once). /readyz serves it.
func (n *Node) Ready() error {
	if err := n.checkOpen(); err != nil {
		return err
	}
	if n.cfg.DataDir != "" {
		// Readable means a directory listing works; one entry is enough.
		f, err := os.Open(filepath.Join(n.cfg.DataDir, "modules"))
		if err == nil {
			_, err = f.Readdirnames(1)
			_ = f.Close()
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("wasmactor: module store unreadable: %w", err)
		}
	}
	if len(n.cfg.Join) > 0 && len(n.Members()) == 0 {
		return fmt.Errorf("wasmactor: not joined: no seed of %v answered yet", n.cfg.Join)
	}
	return nil
}
