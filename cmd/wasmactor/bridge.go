//go:build wasmactor_quicbridge && !wasmactor_nohost

package main

import (
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/transport"
	"github.com/wasmactor/wasmactor/transport/quic"
)

// bridgeTransport is a temporary bridge, built only with -tags
// wasmactor_quicbridge: it creates the QUIC transport in the CLI and hands it
// to host.Start as Config.Transport, for testing the CLI end to end before
// host.Start serves Config.Listen itself. Delete it (and bridge_off.go) once
// it does.
//
// Frames are allowed up to 64 MiB because `deploy` sends a module in one
// control request.
func bridgeTransport(cfg host.Config) (transport.Transport, error) {
	cookie := cfg.Cookie
	if cookie == nil {
		var err error
		if cookie, err = quic.LoadOrCreateCookie(cfg.CookieFile); err != nil {
			return nil, err
		}
	}
	return quic.New(quic.Config{Name: cfg.Name, Listen: cfg.Listen, Cookie: cookie, MaxFrame: 64 << 20})
}
