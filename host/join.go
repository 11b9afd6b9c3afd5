package host

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/wasmactor/wasmactor"
)

// How the node keeps trying its seeds (Config.Join) in the background, and
// how often it looks up "dns:" seeds again for members that appeared.
const (
	joinFirstBackoff = 200 * time.Millisecond
	joinMaxBackoff   = 15 * time.Second
	dnsRefresh       = 30 * time.Second
	joinAttempt      = 10 * time.Second // bound of one Join round
)

// Join connects this node to a cluster through seed addresses: "HOST:PORT",
// or "dns:NAME:PORT" for every A and AAAA record of NAME (a Kubernetes
// headless service). Membership then connects every member. It returns once
// at least one seed answered, or the error of the last attempt.
//
// Start joins Config.Join itself and, if no seed answers, keeps retrying in
// the background; Join is for joining at run time.
//
// # Errors
//
// [wasmactor.ErrUnknownNode] for a node running alone (no Listen and no
// Transport); a lookup error for an unresolvable dns: seed; the transport's
// error when no seed answered.
func (n *Node) Join(ctx context.Context, seeds ...string) error {
	if err := n.checkOpen(); err != nil {
		return err
	}
	if n.cl.tr == nil {
		return fmt.Errorf("%w: node %s runs alone (no Listen): it cannot join", wasmactor.ErrUnknownNode, n.cfg.Name)
	}
	addrs, err := resolveSeeds(ctx, seeds)
	if err != nil && len(addrs) == 0 {
		return err
	}
	return n.cl.tr.Join(ctx, addrs)
}

// resolveSeeds expands "dns:NAME:PORT" seeds into one address per record.
// Other seeds pass as they are. A lookup that fails is reported, but the
// seeds that resolved are still returned.
func resolveSeeds(ctx context.Context, seeds []string) ([]string, error) {
	var out []string
	var errs []error
	for _, s := range seeds {
		rest, ok := strings.CutPrefix(s, "dns:")
		if !ok {
			out = append(out, s)
			continue
		}
		name, port, err := net.SplitHostPort(rest)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: seed %q is not dns:NAME:PORT", wasmactor.ErrBadArgument, s))
			continue
		}
		ips, err := net.DefaultResolver.LookupHost(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("wasmactor: seed %s: %w", s, err))
			continue
		}
		for _, ip := range ips {
			out = append(out, net.JoinHostPort(ip, port))
		}
	}
	return out, errors.Join(errs...)
}

// joinInBackground keeps trying the configured seeds with exponential
// backoff and jitter until one answers, so nodes can start in any order
// (Kubernetes starts pods in any order); /readyz says not ready meanwhile.
// With dns: seeds it then keeps looking them up, so members that appear
// behind the name are joined too. It stops with the node.
func (n *Node) joinInBackground(first error) {
	defer close(n.joinDone)
	backoff := joinFirstBackoff
	joined := first == nil
	hasDNS := false
	for _, s := range n.cfg.Join {
		hasDNS = hasDNS || strings.HasPrefix(s, "dns:")
	}
	if !joined {
		n.log.Warn("no seed answered; retrying in the background", "seeds", n.cfg.Join, "err", first)
	}
	for !joined || hasDNS {
		wait := dnsRefresh
		if !joined {
			// Full jitter: a cluster starting at once does not retry in step.
			wait = backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, joinMaxBackoff)
		}
		if !n.sleep(wait) {
			return
		}
		ctx, cancel := context.WithTimeout(n.life, joinAttempt)
		err := n.Join(ctx, n.cfg.Join...)
		cancel()
		switch {
		case err == nil && !joined:
			joined = true
			n.log.Info("joined the cluster", "seeds", n.cfg.Join)
		case err != nil && !joined:
			n.log.Debug("seeds still unreachable", "seeds", n.cfg.Join, "err", err)
		}
	}
}
