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
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	mux := http.NewServeMux()
	n.observerHandlers(mux)
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
