package quic

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"

	"github.com/wasmactor/wasmactor"
)

// ALPN is the application protocol negotiated in TLS. Its suffix is the
// protocol version; a peer speaking no common version fails the TLS
// handshake with the no_application_protocol alert.
const ALPN = "wasmactor/2"

// tlsConfigs builds the server and client TLS configurations of one
// endpoint.
//
// Without certificates, the endpoint presents an ephemeral self-signed
// certificate and skips verification of the peer's: TLS then provides
// confidentiality and a channel-binding value, and the cookie proof computed
// over that value authenticates the peer (a man in the middle holds two TLS
// sessions with different exporter values, so it cannot relay a proof).
func tlsConfigs(base *tls.Config, certFile, keyFile, caFile string) (server, client *tls.Config, err error) {
	switch {
	case base != nil:
		if len(base.Certificates) == 0 && base.GetCertificate == nil {
			return nil, nil, fmt.Errorf("%w: %v", wasmactor.ErrBadArgument, errNoCert)
		}
		server, client = base.Clone(), base.Clone()
	case certFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: load certificate: %v", wasmactor.ErrBadArgument, err)
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: read CA: %v", wasmactor.ErrBadArgument, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("%w: CA file %s holds no PEM certificate", wasmactor.ErrBadArgument, caFile)
		}
		server = &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
		}
		client = &tls.Config{
			Certificates: []tls.Certificate{cert},
			// Peers are dialled by address, and a node's certificate names
			// the node, not every address it may be reached at: verify the
			// chain against the cluster CA and leave identity to the cookie
			// proof, which also binds the node name.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				return verifyChain(cs.PeerCertificates, pool)
			},
		}
	default:
		cert, err := selfSigned()
		if err != nil {
			return nil, nil, err
		}
		server = &tls.Config{Certificates: []tls.Certificate{cert}}
		// Acceptable only because the cookie proof is bound to this TLS
		// session's exporter value; see docs/protocol.md.
		client = &tls.Config{InsecureSkipVerify: true}
	}
	for _, c := range []*tls.Config{server, client} {
		c.MinVersion = tls.VersionTLS13
		c.NextProtos = []string{ALPN}
		// No resumption, hence no 0-RTT: early data could be replayed.
		c.SessionTicketsDisabled = true
		c.ClientSessionCache = nil
	}
	return server, client, nil
}

func verifyChain(certs []*x509.Certificate, roots *x509.CertPool) error {
	if len(certs) == 0 {
		return errors.New("peer presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err
}

// selfSigned makes an ephemeral certificate that names no node: TLS
// completes before the cookie proof, so whatever the certificate says, a
// peer without the cookie learns.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "wasmactor"},
		DNSNames:     []string{"wasmactor"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
