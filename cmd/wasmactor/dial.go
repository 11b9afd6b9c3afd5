package main

import (
	"context"
	"time"

	"github.com/wasmactor/wasmactor/client"
	"github.com/wasmactor/wasmactor/transport"
	"github.com/wasmactor/wasmactor/transport/quic"
)

// credentials are what the CLI proves to a node: the cookie or a token,
// and certificate files for a cluster with mutual TLS.
type credentials struct {
	cookie                    []byte
	token                     string
	certFile, keyFile, caFile string
}

// dialQUIC connects to a node over QUIC with the cookie or token
// handshake, as a client: it takes no part in membership.
func dialQUIC(ctx context.Context, addr string, cred credentials) (transport.Client, error) {
	timeout := defaultDialTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	return quic.Dial(ctx, addr, quic.ClientConfig{
		Name:     "wasmactor-cli",
		Cookie:   cred.cookie,
		Token:    cred.token,
		CertFile: cred.certFile,
		KeyFile:  cred.keyFile,
		CAFile:   cred.caFile,
		Timeout:  timeout,
		MaxFrame: client.DefaultMaxReply,
	})
}

// readCookieFile reads the cookie the way nodes do, but never creates one.
var readCookieFile = client.ReadCookieFile
