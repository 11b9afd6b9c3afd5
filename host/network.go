package host

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/wasmactor/wasmactor/transport/quic"
)

// startCluster brings up the transport (QUIC unless Config.Transport is
// set) and joins the seeds. A node with neither Listen nor Transport runs
// alone.
func (n *Node) startCluster(ctx context.Context) error {
	tr := n.cfg.Transport
	if tr == nil && n.cfg.Listen == "" {
		return nil
	}
	if tr == nil {
		cookie := n.cfg.Cookie
		if len(cookie) == 0 {
			path := n.cfg.CookieFile
			if path == "" {
				if n.cfg.DataDir == "" {
					return fmt.Errorf("wasmactor: invalid config: Listen needs a Cookie, a CookieFile or a DataDir to keep one in")
				}
				path = filepath.Join(n.cfg.DataDir, "cookie")
			}
			var err error
			if cookie, err = quic.LoadOrCreateCookie(path); err != nil {
				return err
			}
		}
		var err error
		tr, err = quic.New(quic.Config{
			Name:        n.cfg.Name,
			Incarnation: n.incarnation,
			Listen:      n.cfg.Listen,
			Advertise:   n.cfg.Advertise,
			Cookie:      cookie,
			IdleTimeout: n.cfg.IdleTimeout,
			Logger:      n.cfg.Logger, // the transport tags its lines with the node itself
			// A deploy from the CLI carries the whole module in one request.
			MaxRequest: min(256<<20, max(1<<20, n.cfg.MaxModuleSize+64<<10)),
		})
		if err != nil {
			return err
		}
	} else if tr.Self().Name != n.cfg.Name {
		return fmt.Errorf("wasmactor: invalid config: transport is for node %q, not %q", tr.Self().Name, n.cfg.Name)
	}
	n.cl.tr = tr
	if inc := tr.Self().Incarnation; inc != 0 {
		n.incarnation = inc // an injected transport decides the incarnation
	}
	if err := tr.Start(ctx, handler{n: n}); err != nil {
		return err
	}
	if len(n.cfg.Join) > 0 {
		if err := tr.Join(ctx, n.cfg.Join); err != nil {
			return fmt.Errorf("wasmactor: joining %v: %w", n.cfg.Join, err)
		}
	}
	return nil
}

// Addr is the address other nodes and the CLI reach this node on, or "" for
// a node running alone.
func (n *Node) Addr() string {
	if n.cl.tr == nil {
		return ""
	}
	return n.cl.tr.Self().Addr
}
