//go:build !wasmactor_quicbridge && !wasmactor_nohost

package main

import (
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/transport"
)

// bridgeTransport: host.Start builds the transport from Config.Listen (see
// bridge.go for the temporary alternative).
func bridgeTransport(host.Config) (transport.Transport, error) { return nil, nil }
