package main

import (
	"context"
	"errors"

	"github.com/wasmactor/wasmactor/transport"
)

// dialQUIC connects to a node over QUIC with the cookie handshake.
//
// transport/quic has not landed yet; until it does this build cannot reach a
// node, and says so.
func dialQUIC(ctx context.Context, addr string, cookie []byte) (transport.Client, error) {
	return nil, errors.New("this build of wasmactor has no QUIC transport yet (transport/quic)")
}
