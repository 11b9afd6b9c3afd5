package quic

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/testca"
)

func TestMutualTLS(t *testing.T) {
	ca, rogue := testca.New(t), testca.New(t)
	cfg := func(name string, ca *testca.CA) Config {
		c := testConfig(name)
		c.CertFile, c.KeyFile, c.CAFile = ca.Files(t, name)
		return c
	}
	a := startNode(t, cfg("a", ca), newHandler())
	b := startNode(t, cfg("b", ca), newHandler())
	require.NoError(t, a.Join(joinCtx(t), []string{b.Self().Addr}))
	waitFor(t, 5*time.Second, "membership", func() bool { return len(b.Members()) == 1 })

	// The right cookie but a certificate from another CA: refused by TLS.
	m := startNode(t, cfg("m", rogue), newHandler())
	require.Error(t, m.Join(joinCtx(t), []string{b.Self().Addr}))
	// And a node without certificates cannot reach an mTLS cluster either.
	n := startNode(t, testConfig("n"), newHandler())
	require.Error(t, n.Join(joinCtx(t), []string{b.Self().Addr}))
	require.Len(t, b.Members(), 1)

	cf, kf, caf := ca.Files(t, "cli")
	c, err := Dial(joinCtx(t), b.Self().Addr, ClientConfig{Cookie: testCookie, CertFile: cf, KeyFile: kf, CAFile: caf})
	require.NoError(t, err)
	c.Close()
}
