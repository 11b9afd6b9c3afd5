package quic

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// files issues a node certificate and writes cert, key and CA files.
func (ca *testCA) files(t *testing.T, name string) (certFile, keyFile, caFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile, caFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	require.NoError(t, os.WriteFile(caFile, ca.pem, 0o600))
	return
}

func TestMutualTLS(t *testing.T) {
	ca, rogue := newTestCA(t), newTestCA(t)
	cfg := func(name string, ca *testCA) Config {
		c := testConfig(name)
		c.CertFile, c.KeyFile, c.CAFile = ca.files(t, name)
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

	cf, kf, caf := ca.files(t, "cli")
	c, err := Dial(joinCtx(t), b.Self().Addr, ClientConfig{Cookie: testCookie, CertFile: cf, KeyFile: kf, CAFile: caf})
	require.NoError(t, err)
	c.Close()
}
