package main

import (
	"context"
	"time"

	"github.com/wasmactor/wasmactor/client"
	"github.com/wasmactor/wasmactor/transport"
	"github.com/wasmactor/wasmactor/transport/quic"
)

// dialQUIC connects to a node over QUIC with the cookie handshake, as a
// client: it takes no part in membership.
func dialQUIC(ctx context.Context, addr string, cookie []byte) (transport.Client, error) {
	timeout := defaultDialTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	return quic.Dial(ctx, addr, quic.ClientConfig{Name: "wasmactor-cli", Cookie: cookie, Timeout: timeout, MaxFrame: client.DefaultMaxReply})
}

// readCookieFile reads the cookie the way nodes do, but never creates one.
var readCookieFile = client.ReadCookieFile
