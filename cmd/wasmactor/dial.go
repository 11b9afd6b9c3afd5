package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/wasmactor/wasmactor/transport"
	"github.com/wasmactor/wasmactor/transport/quic"
)

// maxReplyFrame caps one reply from the node. Listings of a large cluster
// are far bigger than a message, so the client allows more than the
// transport's 1 MiB default; the node's caps still bound what it sends.
const maxReplyFrame = 64 << 20

// dialQUIC connects to a node over QUIC with the cookie handshake, as a
// client: it takes no part in membership.
func dialQUIC(ctx context.Context, addr string, cookie []byte) (transport.Client, error) {
	timeout := defaultDialTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	return quic.Dial(ctx, addr, quic.ClientConfig{Name: "wasmactor-cli", Cookie: cookie, Timeout: timeout, MaxFrame: maxReplyFrame})
}

// readCookieFile reads the cookie the way nodes do (the same format and
// permission checks), but never creates one: a client inventing a cookie no
// node knows would only turn "no cookie" into a confusing handshake failure.
func readCookieFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return quic.LoadOrCreateCookie(path)
}
