package host_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/testca"
	"github.com/wasmactor/wasmactor/transport/quic"
)

// TestMutualTLSFromConfig: nodes given certificate files in host.Config
// join each other over mutual TLS; a node with the cookie but a
// certificate of another CA, or none, cannot join them, nor can a client
// without a certificate.
func TestMutualTLSFromConfig(t *testing.T) {
	cookie := make([]byte, 32)
	_, _ = rand.Read(cookie)
	ca, rogue := testca.New(t), testca.New(t)
	cfg := func(name string, ca *testca.CA) host.Config {
		c := host.Config{Name: name, Listen: "127.0.0.1:0", Cookie: cookie, IdleTimeout: 2 * time.Second}
		if ca != nil {
			c.CertFile, c.KeyFile, c.CAFile = ca.Files(t, name)
		}
		return c
	}
	n1 := newNode(t, cfg("n1", ca))
	n2cfg := cfg("n2", ca)
	n2cfg.Join = []string{n1.Addr()}
	n2 := newNode(t, n2cfg)
	for _, n := range []*host.Node{n1, n2} {
		require.Eventually(t, func() bool { return len(n.Members()) == 1 }, 10*time.Second, 10*time.Millisecond, n.Name())
	}

	for _, c := range []host.Config{cfg("n3", rogue), cfg("n4", nil)} {
		n := newNode(t, c)
		require.Error(t, n.Join(ctxT(t), n1.Addr()), c.Name)
		require.Empty(t, n.Members(), c.Name)
	}
	require.Len(t, n1.Members(), 1)

	_, err := quic.Dial(ctxT(t), n1.Addr(), quic.ClientConfig{Cookie: cookie, Timeout: 2 * time.Second})
	require.Error(t, err, "a client needs a certificate of the CA too")
	cf, kf, caf := ca.Files(t, "cli")
	c, err := quic.Dial(ctxT(t), n1.Addr(), quic.ClientConfig{Cookie: cookie, CertFile: cf, KeyFile: kf, CAFile: caf})
	require.NoError(t, err)
	require.NoError(t, c.Close())

	half := cfg("n5", nil)
	half.CertFile = n2cfg.CertFile
	_, err = host.Start(ctxT(t), half)
	require.ErrorIs(t, err, wasmactor.ErrBadArgument, "all three files or none")
}
