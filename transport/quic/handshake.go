package quic

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/wasmactor/wasmactor/internal/wire"
	"github.com/wasmactor/wasmactor/transport"
)

// Handshake constants (docs/protocol.md, "Handshake").
const (
	protocolVersion   = 1
	exporterLabel     = "EXPORTER-Channel-Binding"
	exporterLen       = 32
	clientProofLabel  = "wasmactor/1 client proof"
	serverProofLabel  = "wasmactor/1 server proof"
	nonceLen          = 32
	macLen            = sha256.Size
	maxHandshakeFrame = 4096
	maxAddrLen        = 256

	roleNode   uint8 = 0
	roleClient uint8 = 1
)

// hello is the first message each side sends: who it is, and a fresh nonce.
type hello struct {
	Version     uint64 `cbor:"1,keyasint"`
	Role        uint8  `cbor:"2,keyasint"`
	Name        string `cbor:"3,keyasint"`
	Incarnation uint64 `cbor:"4,keyasint"`
	Addr        string `cbor:"5,keyasint,omitempty"`
	Nonce       []byte `cbor:"6,keyasint"`
	MaxFrame    uint64 `cbor:"7,keyasint"`
	// MaxRequest is the largest call request the sender accepts; absent
	// (zero) means MaxFrame. Clients accept no requests and omit it.
	MaxRequest uint64 `cbor:"8,keyasint,omitempty"`
}

// proof carries an HMAC over the handshake (see computeProof).
type proof struct {
	MAC []byte `cbor:"1,keyasint"`
}

func (h hello) info() transport.NodeInfo {
	return transport.NodeInfo{Name: h.Name, Incarnation: h.Incarnation, Addr: h.Addr}
}

// errBadHandshake is the cause of every malformed handshake message.
var errBadHandshake = fmt.Errorf("%w: malformed handshake message", transport.ErrHandshake)

// decodeHello decodes and validates a hello body.
func decodeHello(b []byte) (hello, error) {
	var h hello
	if err := wire.Unmarshal(b, &h); err != nil {
		return hello{}, fmt.Errorf("%w: %v", errBadHandshake, err)
	}
	switch {
	case h.Version != protocolVersion:
		return hello{}, fmt.Errorf("%w: protocol version %d, want %d", transport.ErrHandshake, h.Version, protocolVersion)
	case h.Role != roleNode && h.Role != roleClient:
		return hello{}, fmt.Errorf("%w: unknown role %d", errBadHandshake, h.Role)
	case validName(h.Name) != nil:
		return hello{}, fmt.Errorf("%w: bad name", errBadHandshake)
	case h.Incarnation == 0:
		return hello{}, fmt.Errorf("%w: zero incarnation", errBadHandshake)
	case len(h.Addr) > maxAddrLen:
		return hello{}, fmt.Errorf("%w: address too long", errBadHandshake)
	case len(h.Nonce) != nonceLen:
		return hello{}, fmt.Errorf("%w: nonce of %d bytes", errBadHandshake, len(h.Nonce))
	case h.MaxFrame < minMaxFrame:
		return hello{}, fmt.Errorf("%w: max frame %d", errBadHandshake, h.MaxFrame)
	}
	if h.MaxFrame > maxMaxFrame {
		h.MaxFrame = maxMaxFrame
	}
	h.MaxRequest = min(max(h.MaxRequest, h.MaxFrame), maxMaxRequest)
	return h, nil
}

// decodeProof decodes a proof body.
func decodeProof(b []byte) (proof, error) {
	var p proof
	if err := wire.Unmarshal(b, &p); err != nil {
		return proof{}, fmt.Errorf("%w: %v", errBadHandshake, err)
	}
	if len(p.MAC) != macLen {
		return proof{}, fmt.Errorf("%w: proof of %d bytes", errBadHandshake, len(p.MAC))
	}
	return p, nil
}

// computeProof is HMAC-SHA256 keyed by the cookie over the role label, the
// TLS exporter value of this connection (channel binding) and the transcript
// (both hello bodies exactly as sent, each with a 4-byte big-endian length).
// The label stops a proof from being reflected to its author; the exporter
// value stops it from being relayed onto another TLS session; the nonces in
// the transcript stop it from being replayed later.
func computeProof(cookie []byte, label string, ekm, clientHello, serverHello []byte) []byte {
	m := hmac.New(sha256.New, cookie)
	io.WriteString(m, label)
	m.Write([]byte{0})
	var l [4]byte
	for _, part := range [][]byte{ekm, clientHello, serverHello} {
		binary.BigEndian.PutUint32(l[:], uint32(len(part)))
		m.Write(l[:])
		m.Write(part)
	}
	return m.Sum(nil)
}

// handshaker runs the cookie handshake on the control stream of one
// connection. It is used by exactly one goroutine.
type handshaker struct {
	cookie []byte
	self   hello // Nonce is filled by run
	rw     io.Writer
	r      *wire.Reader
	ekm    []byte

	// set by the run methods
	clientHello, serverHello []byte
}

func newHandshaker(cookie []byte, self hello, rw io.ReadWriter, ekm []byte) *handshaker {
	return &handshaker{cookie: cookie, self: self, rw: rw, r: wire.NewReader(rw, maxHandshakeFrame, 512), ekm: ekm}
}

func newNonce() []byte {
	n := make([]byte, nonceLen)
	if _, err := rand.Read(n); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return n
}

// send encodes v as one frame and writes it; it returns the body.
func (h *handshaker) send(v any) ([]byte, error) {
	body, err := wire.Marshal(v)
	if err != nil {
		return nil, err
	}
	_, err = h.rw.Write(wire.AppendFrame(nil, body))
	return body, err
}

func (h *handshaker) recv() ([]byte, error) {
	b, err := h.r.Next()
	if err != nil {
		if errors.Is(err, transport.ErrFrameTooLarge) {
			return nil, fmt.Errorf("%w: %w", errBadHandshake, err)
		}
		return nil, err
	}
	return b, nil
}

// client runs the dialling side: hello, read the server's hello, let check
// veto the peer (before any proof is sent), prove, then verify the server's
// proof.
func (h *handshaker) client(check func(hello) error) (hello, error) {
	h.self.Nonce = newNonce()
	var err error
	if h.clientHello, err = h.send(h.self); err != nil {
		return hello{}, err
	}
	if h.serverHello, err = h.recv(); err != nil {
		return hello{}, err
	}
	peer, err := decodeHello(h.serverHello)
	if err != nil {
		return hello{}, err
	}
	if peer.Role != roleNode {
		return hello{}, fmt.Errorf("%w: the server is not a node", errBadHandshake)
	}
	if check != nil {
		if err := check(peer); err != nil {
			return hello{}, err
		}
	}
	if _, err := h.send(proof{MAC: computeProof(h.cookie, clientProofLabel, h.ekm, h.clientHello, h.serverHello)}); err != nil {
		return hello{}, err
	}
	b, err := h.recv()
	if err != nil {
		return hello{}, err
	}
	p, err := decodeProof(b)
	if err != nil {
		return hello{}, err
	}
	if !hmac.Equal(p.MAC, computeProof(h.cookie, serverProofLabel, h.ekm, h.clientHello, h.serverHello)) {
		return hello{}, fmt.Errorf("%w: the server's proof is wrong (wrong cookie, or a relayed or reflected proof)", transport.ErrHandshake)
	}
	return peer, nil
}

// server runs the accepting side: read the client's hello, answer with
// ours, verify the client's proof, let admit decide (the peer is now
// authenticated), then prove in turn.
func (h *handshaker) server(admit func(hello) error) (hello, error) {
	var err error
	if h.clientHello, err = h.recv(); err != nil {
		return hello{}, err
	}
	peer, err := decodeHello(h.clientHello)
	if err != nil {
		return hello{}, err
	}
	h.self.Nonce = newNonce()
	if h.serverHello, err = h.send(h.self); err != nil {
		return hello{}, err
	}
	b, err := h.recv()
	if err != nil {
		return hello{}, err
	}
	p, err := decodeProof(b)
	if err != nil {
		return hello{}, err
	}
	if !hmac.Equal(p.MAC, computeProof(h.cookie, clientProofLabel, h.ekm, h.clientHello, h.serverHello)) {
		return hello{}, fmt.Errorf("%w: the client's proof is wrong (wrong cookie, or a relayed or reflected proof)", transport.ErrHandshake)
	}
	if admit != nil {
		if err := admit(peer); err != nil {
			return peer, err
		}
	}
	if _, err := h.send(proof{MAC: computeProof(h.cookie, serverProofLabel, h.ekm, h.clientHello, h.serverHello)}); err != nil {
		return peer, err
	}
	return peer, nil
}
